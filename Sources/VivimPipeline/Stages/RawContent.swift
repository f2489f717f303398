import Foundation
import VivimCore

/// The content as the input stage hands it over (SPEC §7.1 stage 1, §7.2 "raw"): a
/// conversation (or ACU, collection, notebook) read from the owner's database, before any
/// filter. Pure data; the stages never do I/O.
public struct RawContent: Sendable, Equatable {
    public var type: ContentType
    public var title: String
    public var provider: String?
    public var sourceURL: String?
    public var model: String?
    public var createdAt: Date?
    public var messages: [RawMessage]
    /// The ACUs derived from the messages (or, for ACU content, the units themselves).
    public var acus: [RawACU]

    public init(type: ContentType, title: String, provider: String? = nil, sourceURL: String? = nil, model: String? = nil,
                createdAt: Date? = nil, messages: [RawMessage], acus: [RawACU] = []) {
        self.type = type
        self.title = title
        self.provider = provider
        self.sourceURL = sourceURL
        self.model = model
        self.createdAt = createdAt
        self.messages = messages
        self.acus = acus
    }

    /// The size measure used for `originalSize`/`filteredSize`: UTF-8 bytes of the title, of
    /// every message part's text (image references and alt texts included) and of the
    /// content of ACUs that stand alone (content without messages).
    public var byteSize: Int {
        title.utf8.count + messages.reduce(0) { $0 + $1.byteSize } + (messages.isEmpty ? acus.reduce(0) { $0 + $1.content.utf8.count } : 0)
    }
}

/// One message of raw content. `index` is its position in the original conversation and
/// is kept through filtering, so ACUs (which point at it) stay attached.
public struct RawMessage: Sendable, Equatable {
    public var index: Int
    public var role: MessageRole
    public var author: String?
    public var parts: [ContentPart]
    public var createdAt: Date?

    public init(index: Int, role: MessageRole, author: String? = nil, parts: [ContentPart], createdAt: Date? = nil) {
        self.index = index
        self.role = role
        self.author = author
        self.parts = parts
        self.createdAt = createdAt
    }

    public var byteSize: Int { parts.reduce(0) { $0 + $1.byteSize } }
}

/// One atomic chat unit (SPEC §2.2) with its stored id, so PARTIAL scopes can name it.
public struct RawACU: Sendable, Equatable {
    /// The ACU's id, as in `IntentContent.includeACUs`/`excludeACUs`.
    public var id: String
    public var messageIndex: Int
    public var index: Int
    public var type: ACUType
    public var content: String
    public var language: String?

    public init(id: String, messageIndex: Int, index: Int, type: ACUType, content: String, language: String? = nil) {
        self.id = id
        self.messageIndex = messageIndex
        self.index = index
        self.type = type
        self.content = content
        self.language = language
    }
}

extension ContentPart {
    /// UTF-8 bytes of everything the part carries.
    var byteSize: Int {
        switch self {
        case .text(let text): text.utf8.count
        case .code(let language, let code): (language?.utf8.count ?? 0) + code.utf8.count
        case .image(let ref, let alt): ref.utf8.count + (alt?.utf8.count ?? 0)
        case .toolCall(let name, let arguments): name.utf8.count + arguments.utf8.count
        case .toolResult(let name, let content): (name?.utf8.count ?? 0) + content.utf8.count
        }
    }

    var isTool: Bool {
        switch self {
        case .toolCall, .toolResult: true
        default: false
        }
    }

    var isImage: Bool {
        if case .image = self { true } else { false }
    }

    /// Whether nothing is left to show.
    var isEmpty: Bool {
        switch self {
        case .text(let text): text.isEmpty
        case .code(_, let code): code.isEmpty
        case .image(let ref, _): ref.isEmpty
        case .toolCall(let name, let arguments): name.isEmpty && arguments.isEmpty
        case .toolResult(_, let content): content.isEmpty
        }
    }

    /// The part with `transform` applied to each of its free-text fields.
    func mapText(_ transform: (String) -> String) -> ContentPart {
        switch self {
        case .text(let text): .text(transform(text))
        case .code(let language, let code): .code(language: language, code: transform(code))
        case .image(let ref, let alt): .image(ref: ref, alt: alt.map(transform))
        case .toolCall(let name, let arguments): .toolCall(name: name, arguments: transform(arguments))
        case .toolResult(let name, let content): .toolResult(name: name, content: transform(content))
        }
    }
}

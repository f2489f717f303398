import Foundation

public enum MessageRole: String, Sendable, Codable, CaseIterable {
    case user, assistant, system, tool
}

/// One part of a message's content (SPEC §2.2: text, code, image ref, tool call/result).
public enum ContentPart: Sendable, Equatable {
    case text(String)
    case code(language: String?, code: String)
    case image(ref: String, alt: String?)
    case toolCall(name: String, arguments: String)
    case toolResult(name: String?, content: String)

    /// The text a reader (or the full-text index) sees for this part.
    public var plainText: String {
        switch self {
        case .text(let text): text
        case .code(_, let code): code
        case .image(_, let alt): alt ?? ""
        case .toolCall(let name, let arguments): "\(name) \(arguments)"
        case .toolResult(_, let content): content
        }
    }
}

/// The JSON form of a part, shared by the API and the user database:
/// `{type: text|code|image|tool_call|tool_result, text?, language?, url?, alt?, name?, arguments?, content?}`.
extension ContentPart: Codable {
    enum CodingKeys: String, CodingKey { case type, text, language, url, alt, name, arguments, content }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func text(_ key: CodingKeys) throws -> String? { try container.decodeIfPresent(String.self, forKey: key) }
        switch try container.decode(String.self, forKey: .type) {
        case "text": self = .text(try text(.text) ?? "")
        case "code": self = .code(language: try text(.language), code: try text(.text) ?? "")
        case "image": self = .image(ref: try text(.url) ?? "", alt: try text(.alt))
        case "tool_call": self = .toolCall(name: try text(.name) ?? "", arguments: try text(.arguments) ?? "")
        case "tool_result": self = .toolResult(name: try text(.name), content: try text(.content) ?? "")
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .type, in: container, debugDescription: "unknown part type \(other)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .text(let text):
            try container.encode("text", forKey: .type)
            try container.encode(text, forKey: .text)
        case .code(let language, let code):
            try container.encode("code", forKey: .type)
            try container.encodeIfPresent(language, forKey: .language)
            try container.encode(code, forKey: .text)
        case .image(let ref, let alt):
            try container.encode("image", forKey: .type)
            try container.encode(ref, forKey: .url)
            try container.encodeIfPresent(alt, forKey: .alt)
        case .toolCall(let name, let arguments):
            try container.encode("tool_call", forKey: .type)
            try container.encode(name, forKey: .name)
            try container.encode(arguments, forKey: .arguments)
        case .toolResult(let name, let content):
            try container.encode("tool_result", forKey: .type)
            try container.encodeIfPresent(name, forKey: .name)
            try container.encode(content, forKey: .content)
        }
    }
}

public struct MessageInput: Sendable, Equatable {
    public var role: MessageRole
    public var author: String?
    public var parts: [ContentPart]
    public var createdAt: Date?
    public init(role: MessageRole, author: String? = nil, parts: [ContentPart], createdAt: Date? = nil) {
        self.role = role
        self.author = author
        self.parts = parts
        self.createdAt = createdAt
    }
}

/// A conversation as imported from an AI provider's export, already validated.
public struct ConversationInput: Sendable, Equatable {
    public var provider: String
    public var sourceURL: String?
    public var title: String
    public var model: String?
    public var createdAt: Date?
    public var tags: [String]
    public var messages: [MessageInput]

    public init(provider: String, sourceURL: String?, title: String, model: String?, createdAt: Date?, tags: [String] = [], messages: [MessageInput]) {
        self.provider = provider
        self.sourceURL = sourceURL
        self.title = title
        self.model = model
        self.createdAt = createdAt
        self.tags = tags
        self.messages = messages
    }
}

/// Derived counts stored with a conversation.
public struct ConversationCounts: Sendable, Equatable, Codable {
    public var messageCount = 0
    public var wordCount = 0
    public var characterCount = 0
    public var codeBlockCount = 0
    public var imageCount = 0
    public var toolCallCount = 0
    public init() {}
}

/// The kinds of atomic chat unit (ACU) a message is cut into.
public enum ACUType: String, Sendable, Codable, CaseIterable {
    case paragraph, heading, code, list, table, quote, image
    case toolCall = "tool_call"
    case toolResult = "tool_result"

    public var category: String {
        switch self {
        case .paragraph, .heading, .quote: "text"
        case .code: "code"
        case .list, .table: "structured"
        case .image: "media"
        case .toolCall, .toolResult: "tool"
        }
    }
}

/// One ACU derived from a message.
public struct DerivedACU: Sendable, Equatable {
    public var messageIndex: Int
    public var index: Int
    public var type: ACUType
    public var content: String
    public var language: String?
    public init(messageIndex: Int, index: Int, type: ACUType, content: String, language: String? = nil) {
        self.messageIndex = messageIndex
        self.index = index
        self.type = type
        self.content = content
        self.language = language
    }
}

/// The privacy level of a piece of content (SPEC §5.1).
public enum PrivacyLevel: String, Sendable, Codable {
    case local = "LOCAL", shared = "SHARED", `public` = "PUBLIC"
}

import Foundation
import Hummingbird
import VivimCore
import VivimStore

/// The export shape of SPEC §2.2: `{provider, sourceUrl, title, model, createdAt,
/// messages: [{role, content, createdAt}]}`. `content` is a string or an array of parts
/// (`text`, `code`, `image`, `tool_call`, `tool_result`).
struct ImportConversationRequest: Decodable {
    var provider: String
    var sourceUrl: String?
    var title: String?
    var model: String?
    var createdAt: String?
    var tags: [String]?
    var messages: [ImportMessage]
}

struct ImportMessage: Decodable {
    var role: String
    var author: String?
    var content: ImportContent
    var createdAt: String?
}

enum ImportContent: Decodable {
    case text(String)
    case parts([ImportPart])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self = .text(text)
        } else {
            self = .parts(try container.decode([ImportPart].self))
        }
    }
}

struct ImportPart: Decodable {
    var type: String
    var text: String?
    var language: String?
    var url: String?
    var ref: String?
    var alt: String?
    var name: String?
    var arguments: String?
    var content: String?
}

extension ImportConversationRequest {
    /// Validates everything and builds the domain value; the first problem found is reported with its field.
    func parsed() throws -> ConversationInput {
        let provider = try InputLimits.name(provider, field: "provider")
        guard !messages.isEmpty else { throw VivimError.validation("a conversation needs at least one message", field: "messages") }
        guard messages.count <= InputLimits.maxMessagesPerConversation else {
            throw VivimError.validation("at most \(InputLimits.maxMessagesPerConversation) messages", field: "messages")
        }
        let tags = try (tags ?? []).enumerated().map { index, tag in try InputLimits.name(tag, field: "tags[\(index)]") }
        guard tags.count <= InputLimits.maxArrayCount else { throw VivimError.validation("at most 100 tags", field: "tags") }
        let parsedMessages = try messages.enumerated().map { index, message in try message.parsed(field: "messages[\(index)]") }
        let title = try optionalName(title, field: "title") ?? Self.derivedTitle(parsedMessages)
        return ConversationInput(
            provider: provider, sourceURL: try optionalText(sourceUrl, field: "sourceUrl", max: 2_048), title: title,
            model: try optionalName(model, field: "model"), createdAt: try createdAt.map { try parseDate($0, field: "createdAt") },
            tags: tags, messages: parsedMessages)
    }

    static func derivedTitle(_ messages: [MessageInput]) -> String {
        let first = messages.first { $0.role == .user }?.parts.first.map(\.plainText) ?? ""
        let line = first.split(separator: "\n").first.map(String.init) ?? ""
        return line.isEmpty ? "Untitled conversation" : String(line.prefix(120))
    }
}

extension ImportMessage {
    func parsed(field: String) throws -> MessageInput {
        guard let role = MessageRole(rawValue: role.lowercased()) else {
            throw VivimError.validation("role must be user, assistant, system or tool", field: "\(field).role")
        }
        let parts: [ContentPart]
        switch content {
        case .text(let text):
            try InputLimits.checkString(text, field: "\(field).content", max: InputLimits.maxMessageLength)
            parts = [.text(text)]
        case .parts(let list):
            guard list.count <= InputLimits.maxArrayCount else { throw VivimError.validation("at most 100 parts", field: "\(field).content") }
            parts = try list.enumerated().map { index, part in try part.parsed(field: "\(field).content[\(index)]") }
        }
        return MessageInput(role: role, author: try optionalName(author, field: "\(field).author"), parts: parts,
                            createdAt: try createdAt.map { try parseDate($0, field: "\(field).createdAt") })
    }
}

extension ImportPart {
    func parsed(field: String) throws -> ContentPart {
        func required(_ value: String?, _ name: String) throws -> String {
            guard let value else { throw VivimError.validation("\(field).\(name) is required", field: "\(field).\(name)") }
            try InputLimits.checkString(value, field: "\(field).\(name)", max: InputLimits.maxMessageLength)
            return value
        }
        switch type.lowercased() {
        case "text": return .text(try required(text, "text"))
        case "code": return .code(language: try optionalName(language, field: "\(field).language")?.lowercased(), code: try required(text ?? content, "text"))
        case "image": return .image(ref: try required(url ?? ref, "url"), alt: try optionalText(alt, field: "\(field).alt"))
        case "tool_call", "tool_use": return .toolCall(name: try InputLimits.name(name ?? "", field: "\(field).name"), arguments: arguments ?? "")
        case "tool_result": return .toolResult(name: try optionalName(name, field: "\(field).name"), content: try required(content ?? text, "content"))
        default: throw VivimError.validation("type must be text, code, image, tool_call or tool_result", field: "\(field).type")
        }
    }
}

/// RFC 3339 timestamps, with or without fractional seconds.
func parseDate(_ text: String, field: String) throws -> Date {
    if let date = try? Date(text, strategy: .iso8601) { return date }
    if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) { return date }
    throw VivimError.validation("\(field) must be an RFC 3339 timestamp", field: field)
}

struct ConversationSummaryView: Encodable {
    var id: String
    var provider: String
    var sourceUrl: String?
    var title: String
    var model: String?
    var createdAt: Date
    var importedAt: Date
    var tags: [String]
    var counts: ConversationCounts
    var privacyLevel: PrivacyLevel
    var stats: Stats

    struct Stats: Encodable { var shareCount: Int; var viewCount: Int; var uniqueViewers: Int; var lastSharedAt: Date? }

    var locked: Bool

    init(_ record: ConversationRecord, privacyLevel: PrivacyLevel = .local) {
        id = record.id.rawValue
        provider = record.provider
        sourceUrl = record.sourceURL
        title = record.title
        model = record.model
        createdAt = record.createdAt
        importedAt = record.importedAt
        tags = record.tags
        counts = record.counts
        self.privacyLevel = privacyLevel
        locked = record.locked
        stats = Stats(shareCount: record.shareCount, viewCount: record.viewCount, uniqueViewers: record.uniqueViewers,
                      lastSharedAt: record.lastSharedAt)
    }
}

struct MessageView: Encodable {
    var id: String
    var index: Int
    var role: String
    var author: String?
    var content: [ContentPart]
    var createdAt: Date?

    init(_ record: MessageRecord) {
        id = record.id.rawValue
        index = record.index
        role = record.role.rawValue
        author = record.author
        createdAt = record.createdAt
        content = record.parts
    }
}

struct ACUView: Encodable {
    var id: String
    var conversationId: String
    var messageId: String
    var index: Int
    var type: String
    var category: String
    var content: String
    var language: String?
    init(_ record: ACURecord) {
        id = record.id.rawValue
        conversationId = record.conversationID.rawValue
        messageId = record.messageID.rawValue
        index = record.index
        type = record.type.rawValue
        category = record.category
        content = record.content
        language = record.language
    }
}

extension VivimServerApp {
    func addConversationRoutes(_ routes: RouteBuilder) {
        let users = services.userDatabases, clock = services.clock, importLimit = configuration.importBodyLimit
        let master = services.master, limit = configuration.bodyLimit
        /// SPEC §5.1: LOCAL, SHARED or PUBLIC from the ACTIVE intents covering the conversation.
        @Sendable func summary(_ record: ConversationRecord) async throws -> ConversationSummaryView {
            let intents = try await master.activeIntents(covering: ContentID(trusted: record.id.rawValue))
            return ConversationSummaryView(record, privacyLevel: PrivacyLevel.of(ContentID(trusted: record.id.rawValue), intents: intents,
                                                                                  locked: record.locked))
        }

        routes.add(.post, "/api/v1/conversations") { request, context in
            let caller = try context.requireCaller()
            let input = try await request.decodeJSON(as: ImportConversationRequest.self, limit: importLimit).parsed()
            let imported = try await users.database(for: caller.did).importConversation(input, at: clock.now)
            struct Out: Encodable { var id: String; var messageIds: [String]; var acuCount: Int; var counts: ConversationCounts }
            return try context.respond(Out(id: imported.id.rawValue, messageIds: imported.messageIDs.map(\.rawValue),
                                           acuCount: imported.acuCount, counts: imported.counts), status: .created)
        }

        routes.add(.get, "/api/v1/conversations") { request, context in
            let caller = try context.requireCaller()
            let page = try request.pageRequest()
            let result = try await users.database(for: caller.did).conversations(page: PageRequest(page: page.page, pageSize: page.pageSize))
            var items: [ConversationSummaryView] = []
            for record in result.items { items.append(try await summary(record)) }
            return try context.respond(items, pagination: PaginationMeta(result))
        }

        routes.add(.get, "/api/v1/conversations/:id") { _, context in
            let caller = try context.requireCaller()
            let id = try ConversationID(parsing: try context.parameter("id"))
            guard let (record, messages) = try await users.database(for: caller.did).conversationWithMessages(id) else {
                throw VivimError.notFound("conversation not found")
            }
            struct Out: Encodable {
                var conversation: ConversationSummaryView
                var messages: [MessageView]
            }
            return try context.respond(Out(conversation: try await summary(record), messages: messages.map(MessageView.init)))
        }

        routes.add(.patch, "/api/v1/conversations/:id") { request, context in
            let caller = try context.requireCaller()
            let id = try ConversationID(parsing: try context.parameter("id"))
            struct Patch: Decodable { var locked: Bool }
            let body = try await request.decodeJSON(as: Patch.self, limit: limit)
            let database = try users.database(for: caller.did)
            guard try await database.setLocked(id, body.locked), let record = try await database.conversation(id) else {
                throw VivimError.notFound("conversation not found")
            }
            return try context.respond(try await summary(record))
        }

        routes.add(.delete, "/api/v1/conversations/:id") { _, context in
            let caller = try context.requireCaller()
            let id = try ConversationID(parsing: try context.parameter("id"))
            guard try await users.database(for: caller.did).deleteConversation(id) else {
                throw VivimError.notFound("conversation not found")
            }
            return try context.respond(["deleted": id.rawValue])
        }

        routes.add(.get, "/api/v1/acus") { request, context in
            let caller = try context.requireCaller()
            guard let text = try request.stringQuery("conversationId") else {
                throw VivimError.validation("conversationId is required", field: "conversationId")
            }
            let id = try ConversationID(parsing: text, field: "conversationId")
            let database = try users.database(for: caller.did)
            guard try await database.conversation(id) != nil else { throw VivimError.notFound("conversation not found") }
            let page = try request.pageRequest()
            let result = try await database.acus(of: id, page: PageRequest(page: page.page, pageSize: page.pageSize))
            return try context.respond(page: result, ACUView.init)
        }

        routes.add(.get, "/api/v1/search") { request, context in
            let caller = try context.requireCaller()
            guard let query = try request.stringQuery("q", maxLength: 500), !query.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw VivimError.validation("q is required", field: "q")
            }
            let page = try request.pageRequest()
            let hits = try await users.database(for: caller.did).search(query, page: PageRequest(page: page.page, pageSize: page.pageSize))
            struct HitView: Encodable {
                var conversationId: String; var messageId: String; var messageIndex: Int; var title: String; var snippet: String; var score: Double
            }
            return try context.respond(page: hits) {
                HitView(conversationId: $0.conversationID.rawValue, messageId: $0.messageID.rawValue, messageIndex: $0.messageIndex,
                        title: $0.title, snippet: $0.snippet, score: $0.score)
            }
        }
    }
}

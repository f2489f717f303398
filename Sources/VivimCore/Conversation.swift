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

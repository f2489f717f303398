import Foundation
import VivimCore

/// The plaintext of a bundle (SPEC §7.2, docs/bundle-format.md §3):
/// `{type, title, messages: [{role, author?, content, createdAt?}], acus?, attribution?,
/// watermark?, notes?}`. Absent optionals are left out of the JSON, not written as null.
public struct SharedContent: Sendable, Equatable, Codable {
    /// Written in lower case, as in the bundle format's worked example; read in any case.
    public var type: ContentType
    public var title: String
    public var messages: [SharedMessage]
    /// Only for content made of standalone ACUs (no messages).
    public var acus: [SharedACU]?
    public var attribution: SharedAttribution?
    public var watermark: SharedWatermark?
    public var notes: [String]?

    public init(type: ContentType, title: String, messages: [SharedMessage], acus: [SharedACU]? = nil,
                attribution: SharedAttribution? = nil, watermark: SharedWatermark? = nil, notes: [String]? = nil) {
        self.type = type
        self.title = title
        self.messages = messages
        self.acus = acus
        self.attribution = attribution
        self.watermark = watermark
        self.notes = notes
    }

    enum CodingKeys: String, CodingKey { case type, title, messages, acus, attribution, watermark, notes }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decode(ContentType.self, forKey: .type)
        title = try c.decode(String.self, forKey: .title)
        messages = try c.decode([SharedMessage].self, forKey: .messages)
        acus = try c.decodeIfPresent([SharedACU].self, forKey: .acus)
        attribution = try c.decodeIfPresent(SharedAttribution.self, forKey: .attribution)
        watermark = try c.decodeIfPresent(SharedWatermark.self, forKey: .watermark)
        notes = try c.decodeIfPresent([String].self, forKey: .notes)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(type.rawValue.lowercased(), forKey: .type)
        try c.encode(title, forKey: .title)
        try c.encode(messages, forKey: .messages)
        try c.encodeIfPresent(acus, forKey: .acus)
        try c.encodeIfPresent(attribution, forKey: .attribution)
        try c.encodeIfPresent(watermark, forKey: .watermark)
        try c.encodeIfPresent(notes, forKey: .notes)
    }

    /// The encoder whose output is the bundle plaintext: keys sorted, slashes unescaped,
    /// dates ISO 8601 (UTC, whole seconds). Same content, same bytes, so the caller can hash
    /// them for deduplication.
    public static func canonicalEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    /// The canonical UTF-8 JSON of this content (the bundle plaintext).
    public func canonicalJSON() throws -> Data {
        try Self.canonicalEncoder().encode(self)
    }

    public static func decode(canonicalJSON data: Data) throws -> SharedContent {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(SharedContent.self, from: data)
    }
}

public struct SharedMessage: Sendable, Equatable, Codable {
    public var role: MessageRole
    public var author: String?
    public var content: SharedMessageContent
    public var createdAt: Date?

    public init(role: MessageRole, author: String? = nil, content: SharedMessageContent, createdAt: Date? = nil) {
        self.role = role
        self.author = author
        self.content = content
        self.createdAt = createdAt
    }

    /// The text a reader sees, parts joined by blank lines.
    public var plainText: String {
        switch content {
        case .text(let text): text
        case .parts(let parts): parts.map(\.plainText).filter { !$0.isEmpty }.joined(separator: "\n\n")
        }
    }
}

/// A message's `content`: a JSON string when the message is a single text part, otherwise
/// the array of parts in their usual JSON form (`{type: text|code|image|tool_call|tool_result, …}`).
public enum SharedMessageContent: Sendable, Equatable, Codable {
    case text(String)
    case parts([ContentPart])

    public init(_ parts: [ContentPart]) {
        if parts.count == 1, case .text(let text) = parts[0] {
            self = .text(text)
        } else {
            self = .parts(parts)
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self = .text(text)
        } else {
            self = .parts(try container.decode([ContentPart].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let text): try container.encode(text)
        case .parts(let parts): try container.encode(parts)
        }
    }
}

/// A standalone ACU in shared content.
public struct SharedACU: Sendable, Equatable, Codable {
    public var id: String
    public var messageIndex: Int
    public var index: Int
    public var type: ACUType
    public var content: String
    public var language: String?

    public init(_ acu: RawACU) {
        id = acu.id
        messageIndex = acu.messageIndex
        index = acu.index
        type = acu.type
        content = acu.content
        language = acu.language
    }
}

/// `{author?: {did, name?}, date?, source?, text?}`: what the attribution shows.
public struct SharedAttribution: Sendable, Equatable, Codable {
    public var author: ContentAuthor?
    public var date: Date?
    public var source: String?
    public var text: String?

    public init(author: ContentAuthor? = nil, date: Date? = nil, source: String? = nil, text: String? = nil) {
        self.author = author
        self.date = date
        self.source = source
        self.text = text
    }
}

/// Who shared the content: the owner's DID and display name.
public struct ContentAuthor: Sendable, Equatable, Codable {
    public var did: String
    public var name: String?

    public init(did: String, name: String? = nil) {
        self.did = did
        self.name = name
    }
}

/// `{text, position, opacity, timestamp?}`: how a viewer draws the watermark.
public struct SharedWatermark: Sendable, Equatable, Codable {
    public var text: String
    public var position: WatermarkPosition
    /// 0…1.
    public var opacity: Double
    public var timestamp: Date?

    public init(text: String, position: WatermarkPosition, opacity: Double, timestamp: Date? = nil) {
        self.text = text
        self.position = position
        self.opacity = opacity
        self.timestamp = timestamp
    }
}

import Foundation

/// A typed identifier: a lower-case UUID string tagged with what it names, so a
/// `CircleID` can never be passed where a `ConversationID` is expected.
public struct Identifier<Tag>: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    public let rawValue: String

    /// A fresh random identifier.
    public init() { rawValue = UUID().uuidString.lowercased() }

    /// Parses untrusted text; only canonical UUIDs are accepted.
    public init(parsing text: String, field: String = "id") throws(VivimError) {
        guard text.utf8.count == 36, let uuid = UUID(uuidString: text) else {
            throw .validation("not a valid id", field: field)
        }
        rawValue = uuid.uuidString.lowercased()
    }

    /// For values read back from our own storage.
    public init(trusted rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        self = try Self(parsing: try decoder.singleValueContainer().decode(String.self))
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

public enum CircleTag {}
public enum ConversationTag {}
public enum MessageTag {}
public enum ACUTag {}
public enum SessionTag {}

public typealias CircleID = Identifier<CircleTag>
public typealias ConversationID = Identifier<ConversationTag>
public typealias MessageID = Identifier<MessageTag>
public typealias ACUID = Identifier<ACUTag>
public typealias SessionID = Identifier<SessionTag>

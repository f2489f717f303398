import Foundation
import Synchronization

/// A typed identifier: a lower-case UUID string tagged with what it names, so a
/// `CircleID` can never be passed where a `ConversationID` is expected.
public struct Identifier<Tag>: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    public let rawValue: String

    /// A fresh identifier: a time-ordered UUIDv7, so rows inserted together land next to
    /// each other in B-tree indexes instead of on random pages.
    public init() { rawValue = UUIDv7.next() }

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

/// UUID version 7 (RFC 9562 §5.7): 48-bit Unix milliseconds, then a 12-bit counter that
/// keeps identifiers made in the same millisecond in creation order (§6.2, method 1), then
/// 62 random bits.
enum UUIDv7 {
    private static let state = Mutex((milliseconds: UInt64(0), counter: UInt16(0)))
    private static let hexDigits = Array("0123456789abcdef".utf8)

    static func next() -> String {
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        let (milliseconds, counter) = state.withLock { state -> (UInt64, UInt16) in
            if now > state.milliseconds {
                state = (now, UInt16.random(in: 0..<0x400))
            } else if state.counter < 0xfff {
                state.counter += 1
            } else {  // counter exhausted: borrow the next millisecond
                state = (state.milliseconds + 1, 0)
            }
            return state
        }
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: milliseconds >> (40 - 8 * UInt64(index))) }
        bytes[6] = 0x70 | UInt8(counter >> 8)
        bytes[7] = UInt8(truncatingIfNeeded: counter)
        var random = SystemRandomNumberGenerator()
        let tail = random.next()
        for index in 8..<16 { bytes[index] = UInt8(truncatingIfNeeded: tail >> (8 * UInt64(index - 8))) }
        bytes[8] = 0x80 | (bytes[8] & 0x3f)
        var text: [UInt8] = []
        text.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if [4, 6, 8, 10].contains(index) { text.append(UInt8(ascii: "-")) }
            text.append(hexDigits[Int(byte >> 4)])
            text.append(hexDigits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// Input limits of SPEC §10.6, checked where untrusted values are parsed.
public enum InputLimits {
    public static let maxStringLength = 10_000
    public static let maxArrayCount = 100
    public static let maxNameLength = 200
    public static let maxMessageLength = 1_000_000
    public static let maxMessagesPerConversation = 10_000

    public static func checkString(_ value: String, field: String, max: Int = maxStringLength) throws(VivimError) {
        guard value.count <= max else { throw .validation("\(field) is longer than \(max) characters", field: field) }
    }

    /// Trims and checks a required human-readable name.
    public static func name(_ value: String, field: String) throws(VivimError) -> String {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw .validation("\(field) must not be empty", field: field) }
        try checkString(trimmed, field: field, max: maxNameLength)
        return trimmed
    }
}

import Foundation

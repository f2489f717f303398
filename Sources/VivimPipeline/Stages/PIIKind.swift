import Foundation

/// A kind of personal information the redactor recognises. The raw value names the
/// typed placeholder that replaces it (`[EMAIL]`, `[PHONE]`, …), see docs/pii-redaction.md.
public enum PIIKind: String, Sendable, Codable, CaseIterable, Hashable, Comparable {
    case email = "EMAIL"
    case phone = "PHONE"
    case creditCard = "CREDIT_CARD"
    case ipAddress = "IP_ADDRESS"
    case iban = "IBAN"
    /// API keys, tokens, private keys and password/secret assignments.
    case apiKey = "API_KEY"
    /// United States social security number.
    case ssn = "SSN"
    /// A street line (number, street name and suffix, optional unit).
    case streetAddress = "ADDRESS"

    /// The text that replaces a match.
    public var placeholder: String { "[\(rawValue)]" }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// One detected piece of personal information, as a range of UTF-8 byte offsets.
public struct PIIMatch: Sendable, Equatable, Hashable {
    public var kind: PIIKind
    /// UTF-8 byte offsets into the scanned text. Always on ASCII boundaries.
    public var utf8Range: Range<Int>

    public init(kind: PIIKind, utf8Range: Range<Int>) {
        self.kind = kind
        self.utf8Range = utf8Range
    }

    /// The matched range as string indices of `text` (the text that was scanned).
    public func range(in text: String) -> Range<String.Index> {
        let utf8 = text.utf8
        let start = utf8.index(utf8.startIndex, offsetBy: utf8Range.lowerBound)
        let end = utf8.index(start, offsetBy: utf8Range.count)
        return start..<end
    }
}

/// The result of redacting one text.
public struct PIIRedaction: Sendable, Equatable {
    /// The text with every match replaced by its placeholder.
    public var text: String
    /// How many matches of each kind were replaced.
    public var counts: [PIIKind: Int]
    /// UTF-8 bytes of personal information taken out (placeholders not subtracted).
    public var bytesRemoved: Int

    public var total: Int { counts.values.reduce(0, +) }

    public init(text: String, counts: [PIIKind: Int] = [:], bytesRemoved: Int = 0) {
        self.text = text
        self.counts = counts
        self.bytesRemoved = bytesRemoved
    }
}

import Foundation

/// Finds personal information in text and replaces it with typed placeholders
/// (`[EMAIL]`, `[PHONE]`, `[CREDIT_CARD]`, `[IP_ADDRESS]`, `[IBAN]`, `[API_KEY]`, `[SSN]`,
/// `[ADDRESS]`). SPEC §7.1 stage 2.
///
/// One left-to-right pass over the UTF-8 bytes: detectors run only where a token can
/// begin (a word start, `@`, `+`, `(`, `-----`, `::`), and each is a hand-written matcher
/// with checksums (Luhn, IBAN mod-97) and shape rules that keep dates, versions, hashes,
/// ids and code out. What is and is not detected is in docs/pii-redaction.md.
public struct PIIRedactor: Sendable {
    /// The kinds to redact; matches of other kinds are found (so they cannot be split by a
    /// neighbour) but left in place.
    public var kinds: Set<PIIKind>

    public init(kinds: Set<PIIKind> = Set(PIIKind.allCases)) {
        self.kinds = kinds
    }

    /// Every match in `text`, in order, non-overlapping.
    public func matches(in text: String) -> [PIIMatch] {
        var text = text
        text.makeContiguousUTF8()
        let all: [PIIMatch] = text.utf8.withContiguousStorageIfAvailable { bytes in
            var scanner = PIIScanner(bytes: bytes)
            scanner.scan()
            return scanner.matches
        } ?? []
        return kinds.count == PIIKind.allCases.count ? all : all.filter { kinds.contains($0.kind) }
    }

    /// `text` with every match replaced by its placeholder, and the counts per kind.
    public func redact(_ text: String) -> PIIRedaction {
        var text = text
        text.makeContiguousUTF8()
        let kinds = self.kinds
        let result: PIIRedaction? = text.utf8.withContiguousStorageIfAvailable { bytes in
            var scanner = PIIScanner(bytes: bytes)
            scanner.scan()
            let matches = scanner.matches.filter { kinds.contains($0.kind) }
            if matches.isEmpty { return nil }
            var out = [UInt8]()
            out.reserveCapacity(bytes.count)
            var counts: [PIIKind: Int] = [:]
            var removed = 0
            var position = 0
            for match in matches {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[position..<match.utf8Range.lowerBound]))
                out.append(contentsOf: match.kind.placeholder.utf8)
                counts[match.kind, default: 0] += 1
                removed += match.utf8Range.count
                position = match.utf8Range.upperBound
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[position...]))
            return PIIRedaction(text: String(decoding: out, as: UTF8.self), counts: counts, bytesRemoved: removed)
        } ?? nil
        return result ?? PIIRedaction(text: text)
    }
}

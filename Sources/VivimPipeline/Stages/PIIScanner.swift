import Foundation

/// The single-pass matcher behind `PIIRedactor`. It walks the bytes once; at each position
/// where a token may begin it asks the detectors (in the `PIIScanner+…` files) whether one
/// starts there. A detector returns the offset where scanning resumes (after appending a
/// match, or after consuming something that must not be looked into, such as `127.0.0.1`),
/// or nil to let the scanner move on.
struct PIIScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    private(set) var matches: [PIIMatch] = []

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    var count: Int { bytes.count }

    /// The byte at `index`, or 0 outside the text, so detectors can look around freely.
    @inline(__always) func at(_ index: Int) -> UInt8 {
        index >= 0 && index < bytes.count ? bytes[index] : 0
    }

    mutating func scan() {
        let n = bytes.count
        var i = 0
        while i < n {
            let c = bytes[i]
            if c.isASCIIAlnum {
                if !at(i - 1).isWordByte, let resume = detectAtWordStart(i) {
                    i = resume
                    continue
                }
                i += 1
                while i < n, bytes[i].isWordByte { i += 1 }
                continue
            }
            switch c {
            case UInt8(ascii: "@"):
                detectEmail(at: i)
            case UInt8(ascii: "+"):
                if let resume = detectInternationalPhone(at: i) { i = resume; continue }
            case UInt8(ascii: "("):
                if let resume = detectParenthesizedPhone(at: i) { i = resume; continue }
            case UInt8(ascii: "-"):
                if let resume = detectPrivateKeyBlock(at: i) { i = resume; continue }
            case UInt8(ascii: ":"):
                if at(i + 1) == UInt8(ascii: ":"), !at(i - 1).isASCIIAlnum, at(i - 1) != UInt8(ascii: ":"),
                   let resume = detectIPv6(at: i) { i = resume; continue }
                if let resume = detectSecretAssignment(operatorAt: i) { i = resume; continue }
            case UInt8(ascii: "="):
                if let resume = detectSecretAssignment(operatorAt: i) { i = resume; continue }
            default:
                break
            }
            i += 1
        }
    }

    private mutating func detectAtWordStart(_ i: Int) -> Int? {
        let c = bytes[i]
        if c.isASCIIHexDigit, at(i + run(from: i, limit: 5) { $0.isASCIIHexDigit }) == UInt8(ascii: ":"),
           let resume = detectIPv6(at: i) { return resume }
        if c.isASCIIDigit {
            return detectNumber(at: i)
        }
        return detectWord(at: i)
    }

    mutating func append(_ kind: PIIKind, _ range: Range<Int>) {
        matches.append(PIIMatch(kind: kind, utf8Range: range))
    }

    /// Adds a match found by looking backwards (e-mail, URL credentials): earlier matches
    /// it overlaps are dropped, since the longer construct explains them.
    mutating func appendReplacingOverlaps(_ kind: PIIKind, _ range: Range<Int>) {
        while let last = matches.last, last.utf8Range.upperBound > range.lowerBound {
            matches.removeLast()
        }
        append(kind, range)
    }

    // MARK: Small matchers shared by the detectors

    /// Length of the run starting at `index` whose bytes satisfy `predicate`, at most `limit`.
    @inline(__always)
    func run(from index: Int, limit: Int = .max, _ predicate: (UInt8) -> Bool) -> Int {
        var j = index
        let end = limit == .max ? bytes.count : min(bytes.count, index + limit)
        while j < end, predicate(bytes[j]) { j += 1 }
        return j - index
    }

    /// Whether the ASCII text `literal` appears at `index` (exact case).
    @inline(__always)
    func hasPrefix(_ literal: StaticString, at index: Int) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard index >= 0, index + count <= bytes.count else { return false }
        let pointer = literal.utf8Start
        for k in 0..<count where bytes[index + k] != pointer[k] { return false }
        return true
    }

    /// Whether `literal` (lower-case ASCII) appears at `index`, ignoring ASCII case.
    @inline(__always)
    func hasPrefixIgnoringCase(_ literal: StaticString, at index: Int) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard index >= 0, index + count <= bytes.count else { return false }
        let pointer = literal.utf8Start
        for k in 0..<count where bytes[index + k].asciiLowercased != pointer[k] { return false }
        return true
    }

    /// Whether one of `words` (lower-case) starts a word within the `window` bytes before
    /// `index`, with no digit or placeholder between it and `index`. Used for context such
    /// as "phone: …" or "version …": "call [PHONE] (Prague). 01.02.03.04" is no context
    /// for the last number.
    func precededByKeyword(_ words: [StaticString], before index: Int, window: Int) -> Bool {
        var from = index
        while from > max(0, index - window) {
            let c = at(from - 1)
            if c.isASCIIDigit || c == UInt8(ascii: "[") || c == UInt8(ascii: "]") { break }
            from -= 1
        }
        guard from < index else { return false }
        for start in from..<index where !at(start - 1).isASCIILetter && at(start).isASCIILetter {
            for word in words where hasPrefixIgnoringCase(word, at: start) { return true }
        }
        return false
    }

    /// A token ends at `index` when the next byte does not continue a word or a number.
    @inline(__always)
    func endsToken(at index: Int) -> Bool {
        let next = at(index)
        if next.isWordByte { return false }
        switch next {
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "/"), UInt8(ascii: ","), UInt8(ascii: ":"):
            return !at(index + 1).isASCIIAlnum
        default:
            return true
        }
    }
}

extension UInt8 {
    @inline(__always) var isASCIIDigit: Bool { self &- 48 < 10 }
    @inline(__always) var isASCIIUpper: Bool { self &- 65 < 26 }
    @inline(__always) var isASCIILower: Bool { self &- 97 < 26 }
    @inline(__always) var isASCIILetter: Bool { (self | 0x20) &- 97 < 26 }
    @inline(__always) var isASCIIAlnum: Bool { isASCIIDigit || isASCIILetter }
    /// Letters, digits and `_`: the bytes that continue an identifier or a word.
    @inline(__always) var isWordByte: Bool { isASCIIAlnum || self == 95 }
    @inline(__always) var isASCIIHexDigit: Bool { isASCIIDigit || (self | 0x20) &- 97 < 6 }
    @inline(__always) var asciiLowercased: UInt8 { isASCIIUpper ? self | 0x20 : self }
    @inline(__always) var digitValue: Int { Int(self &- 48) }
}

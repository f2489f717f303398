import Foundation

extension PIIScanner {
    // MARK: IPv6

    /// RFC 4291 §2.2 text forms: eight groups of 1–4 hex digits, or fewer around one `::`,
    /// optionally ending in a dotted quad. To keep `A::B`, `crate::io` and `12:30:45` out, a
    /// compressed form needs two groups and a decimal digit. `::` and `::1` are consumed
    /// without redaction (unspecified and loopback).
    mutating func detectIPv6(at i: Int) -> Int? {
        var j = i
        var groups = 0
        var compressed = false
        var sawDigit = false
        if at(j) == UInt8(ascii: ":") {
            guard at(j + 1) == UInt8(ascii: ":") else { return nil }
            compressed = true
            j += 2
        }
        while groups < 8 {
            let length = run(from: j, limit: 5) { $0.isASCIIHexDigit }
            if length == 0 { break }
            // A dotted quad ends the address ("::ffff:192.0.2.128").
            if at(j + length) == UInt8(ascii: "."), at(j + length + 1).isASCIIDigit, (compressed ? groups <= 5 : groups == 6),
               (j..<(j + length)).allSatisfy({ at($0).isASCIIDigit }) {
                var probe = PIIScanner(bytes: bytes)
                guard let end = probe.detectIPv4Shape(at: j) else { return nil }
                groups += 2
                sawDigit = true
                j = end
                break
            }
            guard length <= 4, !at(j + length).isWordByte else { return nil }
            for m in 0..<length where at(j + m).isASCIIDigit { sawDigit = true }
            groups += 1
            j += length
            if at(j) == UInt8(ascii: ":"), at(j + 1) == UInt8(ascii: ":") {
                guard !compressed else { return nil }
                compressed = true
                j += 2
                continue
            }
            if at(j) == UInt8(ascii: ":"), at(j + 1).isASCIIHexDigit {
                j += 1
                continue
            }
            break
        }
        let next = at(j)
        guard !next.isWordByte, next != UInt8(ascii: ":"), !(next == UInt8(ascii: ".") && at(j + 1).isASCIIDigit) else { return nil }
        if compressed {
            guard groups <= 7 else { return nil }
            // "::", "::1": unspecified and loopback.
            if i + 2 == j || (at(i) == UInt8(ascii: ":") && groups == 1 && j - i == 3 && at(i + 2) == UInt8(ascii: "1")) {
                return j
            }
            guard sawDigit, groups >= 2 else { return nil }
        } else {
            guard groups == 8 else { return nil }
        }
        append(.ipAddress, i..<j)
        return j
    }

    /// The end of a syntactically valid dotted quad at `i`, without policy or recording.
    mutating func detectIPv4Shape(at i: Int) -> Int? {
        var j = i
        for k in 0..<4 {
            let length = run(from: j, limit: 4) { $0.isASCIIDigit }
            guard (1...3).contains(length) else { return nil }
            var value = 0
            for m in 0..<length { value = value * 10 + at(j + m).digitValue }
            guard value <= 255 else { return nil }
            j += length
            if k < 3 {
                guard at(j) == UInt8(ascii: ".") else { return nil }
                j += 1
            }
        }
        return j
    }

    // MARK: E-mail and URL credentials

    /// Called at each `@`: reads the local part backwards and the domain forwards. A
    /// `scheme://user:password@host` yields the password as `[API_KEY]` instead.
    mutating func detectEmail(at a: Int) {
        var s = a
        while s > 0 {
            let c = at(s - 1)
            if c.isASCIIAlnum || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: "%")
                || c == UInt8(ascii: "+") || c == UInt8(ascii: "-") {
                s -= 1
            } else if c == UInt8(ascii: "'"), at(s - 2).isASCIIAlnum, at(s).isASCIIAlnum {
                s -= 1
            } else {
                break
            }
        }
        while s < a, !at(s).isASCIIAlnum { s += 1 }
        guard s < a, a - s <= 64 else { return }

        // URL userinfo: "//user:password@" or "//token@".
        if at(s - 1) == UInt8(ascii: "/"), at(s - 2) == UInt8(ascii: "/") { return }
        if at(s - 1) == UInt8(ascii: ":") {
            var u = s - 1
            while u > 0, at(u - 1).isWordByte || at(u - 1) == UInt8(ascii: ".") || at(u - 1) == UInt8(ascii: "-") { u -= 1 }
            if at(u - 1) == UInt8(ascii: "/"), at(u - 2) == UInt8(ascii: "/") {
                if a - s >= 4 { appendReplacingOverlaps(.apiKey, s..<a) }
                return
            }
        }

        // Domain: labels of letters, digits and inner dashes; the last is alphabetic.
        var j = a + 1
        var labels = 0
        var lastLabelStart = j
        while true {
            let length = run(from: j, limit: 64) { $0.isASCIIAlnum || $0 == UInt8(ascii: "-") }
            guard length > 0, at(j) != UInt8(ascii: "-"), at(j + length - 1) != UInt8(ascii: "-") else { break }
            labels += 1
            lastLabelStart = j
            j += length
            if at(j) == UInt8(ascii: "."), at(j + 1).isASCIIAlnum { j += 1 } else { break }
        }
        let tldLength = j - lastLabelStart
        guard labels >= 2, tldLength >= 2, j - a <= 254,
              (lastLabelStart..<j).allSatisfy({ at($0).isASCIILetter }),
              !at(j).isWordByte, at(j) != UInt8(ascii: "@")
        else { return }
        if isNonMailbox(local: s..<a, tld: lastLabelStart..<j) { return }
        appendReplacingOverlaps(.email, s..<j)
    }

    /// `git@host` is an SSH remote, `icon@2x.png` a file, `name@domain.tld` a placeholder.
    private func isNonMailbox(local: Range<Int>, tld: Range<Int>) -> Bool {
        if local.count == 3, hasPrefix("git", at: local.lowerBound) { return true }
        let notMail: [StaticString] = ["png", "jpg", "jpeg", "gif", "svg", "webp", "tld", "test", "invalid", "localhost", "local"]
        for word in notMail where word.utf8CodeUnitCount == tld.count && hasPrefixIgnoringCase(word, at: tld.lowerBound) {
            return true
        }
        return false
    }

    // MARK: PEM private keys

    /// `-----BEGIN … PRIVATE KEY-----` through the matching END line. Certificates and
    /// public keys are public and stay.
    mutating func detectPrivateKeyBlock(at i: Int) -> Int? {
        guard hasPrefix("-----BEGIN ", at: i) else { return nil }
        var j = i + 11
        let headerEnd = min(count, j + 40)
        var isPrivate = false
        while j < headerEnd, at(j) != UInt8(ascii: "-"), at(j) != 10 {
            if hasPrefix("PRIVATE KEY", at: j) { isPrivate = true }
            j += 1
        }
        guard isPrivate, hasPrefix("-----", at: j) else { return nil }
        let limit = min(count, j + 64 * 1024)
        while j < limit {
            if at(j) == UInt8(ascii: "-"), hasPrefix("-----END ", at: j) {
                var k = j + 9
                while k < limit, at(k) != UInt8(ascii: "-"), at(k) != 10 { k += 1 }
                guard hasPrefix("-----", at: k) else { return nil }
                append(.apiKey, i..<(k + 5))
                return k + 5
            }
            j += 1
        }
        return nil
    }
}

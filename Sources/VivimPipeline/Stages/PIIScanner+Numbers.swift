import Foundation

/// Runs of digits separated by single spaces, dashes or dots, as phone numbers, cards and
/// SSNs are written. Kept in SIMD storage so a number costs no allocation.
struct DigitGroups {
    var lengths = SIMD16<Int32>()
    /// `separators[k]` sits between group k and group k + 1.
    var separators = SIMD16<UInt8>()
    var count = 0
    var start: Int
    var end: Int

    init(start: Int) {
        self.start = start
        self.end = start
    }

    func length(_ k: Int) -> Int { Int(lengths[k]) }

    /// Digits in the first `groups` groups.
    func total(_ groups: Int) -> Int {
        var sum = 0
        for k in 0..<groups { sum += Int(lengths[k]) }
        return sum
    }

    /// Byte offset where group `k` begins (every separator is one byte).
    func offset(ofGroup k: Int) -> Int {
        var position = start
        for m in 0..<k { position += Int(lengths[m]) + 1 }
        return position
    }

    /// Byte offset just after group `k`.
    func end(ofGroup k: Int) -> Int { offset(ofGroup: k) + Int(lengths[k]) }

    /// Whether the separators among the first `groups` groups are all `separator`.
    func separators(_ groups: Int, allEqualTo separator: UInt8) -> Bool {
        for k in 0..<max(0, groups - 1) where separators[k] != separator { return false }
        return true
    }

    func separators(_ groups: Int, allIn allowed: (UInt8) -> Bool) -> Bool {
        for k in 0..<max(0, groups - 1) where !allowed(separators[k]) { return false }
        return true
    }
}

extension PIIScanner {
    /// Words that say a number nearby is a phone number.
    static let phoneKeywords: [StaticString] = ["phone", "tel", "mobile", "cell", "call", "fax", "whatsapp", "sms", "text me", "handy", "móvil", "portable"]
    /// Words that say a dotted quad is not an address.
    static let versionKeywords: [StaticString] = ["version", "ver", "release", "build", "section", "chapter", "firmware"]

    func digitGroups(at index: Int) -> DigitGroups {
        var groups = DigitGroups(start: index)
        var j = index
        while groups.count < 16 {
            let length = run(from: j, limit: 20) { $0.isASCIIDigit }
            if length == 0 { break }
            groups.lengths[groups.count] = Int32(length)
            groups.count += 1
            j += length
            groups.end = j
            let separator = at(j)
            guard groups.count < 16,
                  separator == UInt8(ascii: " ") || separator == UInt8(ascii: "-") || separator == UInt8(ascii: "."),
                  at(j + 1).isASCIIDigit
            else { break }
            groups.separators[groups.count - 1] = separator
            j += 1
        }
        return groups
    }

    /// A number may start here: not glued to an identifier (`ORD-2024`, `v1.2`), a price
    /// (`$12`) or a reference (`#1234`).
    func numberMayStart(at index: Int) -> Bool {
        let previous = at(index - 1)
        switch previous {
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "/"), UInt8(ascii: ","):
            return !at(index - 2).isASCIIAlnum
        case UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "^"), UInt8(ascii: "~"):
            return false
        default:
            return true
        }
    }

    /// Detectors for tokens that start with a digit: IPv4, SSN, card, phone, street address.
    mutating func detectNumber(at i: Int) -> Int? {
        guard numberMayStart(at: i) else { return nil }
        let leading = run(from: i, limit: 4) { $0.isASCIIDigit }
        if leading <= 3, at(i + leading) == UInt8(ascii: "."), let resume = detectIPv4(at: i) {
            return resume
        }
        let groups = digitGroups(at: i)
        if groups.count == 3, groups.length(0) == 3, groups.length(1) == 2, groups.length(2) == 4,
           groups.separators(3, allEqualTo: UInt8(ascii: "-")), endsToken(at: groups.end), isSSN(groups) {
            append(.ssn, i..<groups.end)
            return groups.end
        }
        // Longest first; a shorter reading is tried only where a space separates it from
        // what follows ("4111 1111 1111 1111 08/27", "020 7946 0321 18 times").
        var k = groups.count
        while k >= 1 {
            let end = groups.end(ofGroup: k - 1)
            if k == groups.count ? endsToken(at: end) : groups.separators[k - 1] == UInt8(ascii: " ") {
                if isCard(groups, k) {
                    append(.creditCard, i..<end)
                    return end
                }
                if isNationalPhone(groups, k) {
                    append(.phone, i..<end)
                    return end
                }
            }
            k -= 1
        }
        if groups.count >= 1, endsToken(at: groups.end), isPhoneByContext(groups) {
            append(.phone, i..<groups.end)
            return groups.end
        }
        return detectStreetAddress(startingWithNumberAt: i)
    }

    // MARK: IPv4

    /// A dotted quad with octets 0–255 and no leading zeros. Loopback, 0.0.0.0, broadcast and
    /// netmasks name no host and are consumed without redaction, as are quads introduced by
    /// "version", "section", … .
    mutating func detectIPv4(at i: Int) -> Int? {
        var j = i
        var address: UInt32 = 0
        for k in 0..<4 {
            let length = run(from: j, limit: 4) { $0.isASCIIDigit }
            guard (1...3).contains(length), length == 1 || at(j) != UInt8(ascii: "0") else { return nil }
            var value = 0
            for m in 0..<length { value = value * 10 + at(j + m).digitValue }
            guard value <= 255 else { return nil }
            address = address << 8 | UInt32(value)
            j += length
            if k < 3 {
                guard at(j) == UInt8(ascii: "."), at(j + 1).isASCIIDigit else { return nil }
                j += 1
            }
        }
        let next = at(j)
        if next.isWordByte || (next == UInt8(ascii: ".") && at(j + 1).isASCIIDigit) { return nil }
        if Self.isNonHostIPv4(address) || precededByKeyword(Self.versionKeywords, before: i, window: 12) {
            return j
        }
        append(.ipAddress, i..<j)
        return j
    }

    static func isNonHostIPv4(_ address: UInt32) -> Bool {
        if address >> 24 == 127 || address == 0 { return true }
        if address >> 24 == 255 {
            let inverted = ~address
            return inverted & (inverted &+ 1) == 0
        }
        return false
    }

    // MARK: SSN

    /// US SSN AAA-GG-SSSS: area not 000, 666 or 9xx; group not 00; serial not 0000.
    func isSSN(_ groups: DigitGroups) -> Bool {
        let s = groups.start
        let area = at(s).digitValue * 100 + at(s + 1).digitValue * 10 + at(s + 2).digitValue
        let group = at(s + 4).digitValue * 10 + at(s + 5).digitValue
        let serial = (0..<4).reduce(0) { $0 * 10 + at(s + 7 + $1).digitValue }
        return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
    }

    // MARK: Payment cards

    /// 13–19 digits, written whole or in groups of 3–6 with one kind of separator, with a
    /// known issuer prefix for that length and a valid Luhn check digit.
    func isCard(_ groups: DigitGroups, _ k: Int) -> Bool {
        let total = groups.total(k)
        guard (13...19).contains(total) else { return false }
        if k > 1 {
            guard groups.separators(k, allEqualTo: UInt8(ascii: " ")) || groups.separators(k, allEqualTo: UInt8(ascii: "-")),
                  groups.length(0) == 4
            else { return false }
            for m in 0..<k where !(3...6).contains(groups.length(m)) && !(m == k - 1 && groups.length(m) >= 1) { return false }
        }
        var digits = [UInt8](repeating: 0, count: total)
        var n = 0
        for position in groups.start..<groups.end(ofGroup: k - 1) where at(position).isASCIIDigit {
            digits[n] = at(position) &- 48
            n += 1
        }
        return Self.hasIssuerPrefix(digits) && Self.luhnValid(digits)
    }

    static func luhnValid(_ digits: [UInt8]) -> Bool {
        var sum = 0
        for (offset, digit) in digits.reversed().enumerated() {
            var d = Int(digit)
            if offset % 2 == 1 {
                d *= 2
                if d > 9 { d -= 9 }
            }
            sum += d
        }
        return sum % 10 == 0
    }

    /// Issuer identification numbers (ISO/IEC 7812) of the major networks, with the lengths
    /// each issues.
    static func hasIssuerPrefix(_ d: [UInt8]) -> Bool {
        func prefix(_ n: Int) -> Int { d.prefix(n).reduce(0) { $0 * 10 + Int($1) } }
        let length = d.count
        let p2 = prefix(2), p3 = prefix(3), p4 = prefix(4), p6 = prefix(6)
        if d[0] == 4 { return length == 13 || length == 16 || length == 19 }                      // Visa
        if (51...55).contains(p2) || (2221...2720).contains(p4) { return length == 16 }            // Mastercard
        if p2 == 34 || p2 == 37 { return length == 15 }                                             // American Express
        if (2200...2204).contains(p4) { return length >= 16 }                                        // Mir
        if p4 == 6011 || (644...649).contains(p3) || p2 == 65 || (622126...622925).contains(p6) {   // Discover
            return length >= 16
        }
        if (3528...3589).contains(p4) { return length >= 16 }                                        // JCB
        if (300...305).contains(p3) || p4 == 3095 || p2 == 36 || p2 == 38 || p2 == 39 {             // Diners Club
            return length >= 14
        }
        if p2 == 62 { return length >= 16 }                                                          // UnionPay
        if [5018, 5019, 5020, 5038, 5893, 6304, 6759, 6761, 6762, 6763].contains(p4) { return true }  // Maestro, Dankort
        return false
    }

    // MARK: Phone numbers

    /// National formats with separators: NANP `415-555-2671` / `1-800-555-0199`, trunk-0
    /// numbers (`020 7946 0958`, `06 12 34 56 78`, `03-1234-5678`), `00`-prefixed
    /// international, Spanish `612 345 678` and Chinese mobile `138 0013 8000`. Bare digit
    /// runs, dates and versions do not have these shapes.
    func isNationalPhone(_ groups: DigitGroups, _ k: Int) -> Bool {
        guard k >= 2 else { return false }
        let total = groups.total(k)
        let first = at(groups.start)
        let second = groups.length(0) >= 2 ? at(groups.start + 1) : at(groups.offset(ofGroup: 1))
        let dotted = groups.separators(k, allEqualTo: UInt8(ascii: "."))
        if !dotted && !groups.separators(k, allIn: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "-") }) { return false }
        let lengths = (0..<k).map(groups.length)

        // North American Numbering Plan.
        if lengths == [3, 3, 4] || lengths == [1, 3, 3, 4] {
            let area = lengths.count == 4 ? groups.offset(ofGroup: 1) : groups.start
            let exchange = lengths.count == 4 ? groups.offset(ofGroup: 2) : groups.offset(ofGroup: 1)
            if lengths.count == 4, first != UInt8(ascii: "1") { return false }
            return at(area) >= UInt8(ascii: "2") && at(exchange) >= UInt8(ascii: "2")
                && (lengths.count == 3 || !dotted)
        }
        if first == UInt8(ascii: "0") {
            if second == UInt8(ascii: "0") {
                // 00 + country code: "0044 20 7946 0958". Country codes do not start with 0,
                // and the national number after them drops its trunk 0 (except in Italy).
                let countryCode = groups.start + 2
                let national = groups.offset(ofGroup: 1)
                return !dotted && (10...15).contains(total) && k >= 3 && (3...4).contains(lengths[0])
                    && at(countryCode) != UInt8(ascii: "0")
                    && (at(national) != UInt8(ascii: "0") || (at(countryCode) == UInt8(ascii: "3") && at(countryCode + 1) == UInt8(ascii: "9")))
            }
            // Trunk prefix 0. Dotted only in the French style of pairs.
            if dotted { return total == 10 && lengths.allSatisfy { $0 == 2 } }
            return (9...12).contains(total) && (2...5).contains(lengths[0]) && lengths.dropFirst().allSatisfy { (2...9).contains($0) }
        }
        if dotted { return false }
        if lengths == [3, 3, 3], (UInt8(ascii: "6")...UInt8(ascii: "9")).contains(first), groups.separators(k, allEqualTo: UInt8(ascii: " ")) {
            return true
        }
        if lengths == [3, 4, 4], first == UInt8(ascii: "1"), second >= UInt8(ascii: "3") {
            return true
        }
        return false
    }

    /// Any 7–15-digit number right after "phone", "tel", "call", … .
    func isPhoneByContext(_ groups: DigitGroups) -> Bool {
        let total = groups.total(groups.count)
        guard (7...15).contains(total), groups.count >= 2 || total >= 9,
              groups.count == 1 || (1..<groups.count).allSatisfy({ groups.length($0) >= 2 })
        else { return false }
        return precededByKeyword(Self.phoneKeywords, before: groups.start, window: 24)
    }

    /// `+CC …`: E.164 and the ways people space it, `+1 (415) 555-2671`, `+44 (0)20 7946 0958`.
    mutating func detectInternationalPhone(at i: Int) -> Int? {
        let previous = at(i - 1)
        guard at(i + 1).isASCIIDigit, !previous.isASCIIAlnum,
              previous != UInt8(ascii: ")"), previous != UInt8(ascii: "]"), previous != UInt8(ascii: "+")
        else { return nil }
        var j = i + 1
        var end = j
        var total = 0
        var groups = 0
        while groups < 10 {
            if at(j) == UInt8(ascii: "(") {
                let length = run(from: j + 1, limit: 6) { $0.isASCIIDigit }
                guard (1...5).contains(length), at(j + 1 + length) == UInt8(ascii: ")") else { break }
                total += length
                groups += 1
                j += length + 2
                end = j
                if at(j) == UInt8(ascii: " ") || at(j) == UInt8(ascii: "-"), at(j + 1).isASCIIDigit { j += 1 }
                if at(j).isASCIIDigit { continue }
                break
            }
            let length = run(from: j, limit: 16) { $0.isASCIIDigit }
            if length == 0 { break }
            total += length
            groups += 1
            j += length
            end = j
            let separator = at(j)
            if separator == UInt8(ascii: " ") || separator == UInt8(ascii: "-") || separator == UInt8(ascii: "."),
               at(j + 1).isASCIIDigit || at(j + 1) == UInt8(ascii: "(") {
                j += 1
                continue
            }
            break
        }
        guard endsToken(at: end) else { return nil }
        let plausible = groups == 1 ? (10...15).contains(total) : (8...16).contains(total)
        guard plausible else { return nil }
        append(.phone, i..<end)
        return end
    }

    /// `(212) 555-0147`, `(02) 9876 5432`, `(11) 98765-4321`.
    mutating func detectParenthesizedPhone(at i: Int) -> Int? {
        guard !at(i - 1).isASCIIAlnum else { return nil }
        let area = run(from: i + 1, limit: 5) { $0.isASCIIDigit }
        guard (2...4).contains(area), at(i + 1 + area) == UInt8(ascii: ")") else { return nil }
        var j = i + 2 + area
        if at(j) == UInt8(ascii: " ") || at(j) == UInt8(ascii: "-") { j += 1 }
        guard at(j).isASCIIDigit else { return nil }
        let rest = digitGroups(at: j)
        let k = rest.count
        guard (1...3).contains(k), endsToken(at: rest.end),
              (0..<k).allSatisfy({ (3...5).contains(rest.length($0)) }), rest.length(k - 1) >= 4,
              rest.separators(k, allIn: { $0 != UInt8(ascii: ".") }),
              (9...12).contains(area + rest.total(k))
        else { return nil }
        append(.phone, i..<rest.end)
        return rest.end
    }
}

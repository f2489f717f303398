import Foundation

extension PIIScanner {
    /// Detectors for tokens that start with a letter: provider keys, JWTs, IBANs, secret
    /// assignments (`password=…`), `Bearer` tokens and street names written name-first.
    mutating func detectWord(at i: Int) -> Int? {
        if let end = providerKeyEnd(at: i) {
            append(.apiKey, i..<end)
            return end
        }
        let c = at(i)
        if c.isASCIIUpper, at(i + 1).isASCIIUpper, let end = ibanEnd(at: i) {
            append(.iban, i..<end)
            return end
        }
        if c == UInt8(ascii: "B"), hasPrefix("Bearer ", at: i) {
            let length = run(from: i + 7, limit: 4096) { $0.isASCIIAlnum || Self.isTokenPunctuation($0) }
            if length >= 20, endsToken(at: i + 7 + length) || at(i + 7 + length) == UInt8(ascii: "\"") {
                append(.apiKey, (i + 7)..<(i + 7 + length))
                return i + 7 + length
            }
        }
        if c.isASCIIUpper, let resume = detectStreetAddress(startingWithNameAt: i) { return resume }
        return nil
    }

    static func isTokenPunctuation(_ c: UInt8) -> Bool {
        c == UInt8(ascii: "-") || c == UInt8(ascii: "_") || c == UInt8(ascii: ".") || c == UInt8(ascii: "~")
            || c == UInt8(ascii: "+") || c == UInt8(ascii: "/") || c == UInt8(ascii: "=")
    }

    // MARK: Provider key formats

    /// The end of a credential in a provider's published format, if one starts at `i`.
    func providerKeyEnd(at i: Int) -> Int? {
        func body(_ prefixLength: Int, min: Int, max: Int = 512, _ allowed: (UInt8) -> Bool) -> Int? {
            let length = run(from: i + prefixLength, limit: max + 1, allowed)
            guard length >= min, length <= max else { return nil }
            let end = i + prefixLength + length
            return at(end).isWordByte || at(end) == UInt8(ascii: "-") && allowed(UInt8(ascii: "-")) ? nil : end
        }
        let alnum: (UInt8) -> Bool = { $0.isASCIIAlnum }
        let urlSafe: (UInt8) -> Bool = { $0.isASCIIAlnum || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
        switch at(i) {
        case UInt8(ascii: "A"):
            if hasPrefix("AKIA", at: i) || hasPrefix("ASIA", at: i) {                      // AWS access key id
                return body(4, min: 16, max: 16) { $0.isASCIIUpper || $0.isASCIIDigit }
            }
            if hasPrefix("AIza", at: i) { return body(4, min: 30, max: 40, urlSafe) }      // Google API key
        case UInt8(ascii: "g"):
            if hasPrefix("gh", at: i), [UInt8(ascii: "p"), UInt8(ascii: "o"), UInt8(ascii: "u"), UInt8(ascii: "s"), UInt8(ascii: "r")].contains(at(i + 2)),
               at(i + 3) == UInt8(ascii: "_") {
                return body(4, min: 30, max: 255, alnum)                                   // GitHub tokens
            }
            if hasPrefix("github_pat_", at: i) { return body(11, min: 20, max: 255) { $0.isWordByte } }
            if hasPrefix("glpat-", at: i) { return body(6, min: 20, max: 64, urlSafe) }   // GitLab
        case UInt8(ascii: "x"):
            if hasPrefix("xox", at: i), [UInt8(ascii: "a"), UInt8(ascii: "b"), UInt8(ascii: "p"), UInt8(ascii: "o"), UInt8(ascii: "r"), UInt8(ascii: "s")].contains(at(i + 3)),
               at(i + 4) == UInt8(ascii: "-") {
                return body(5, min: 10, max: 255) { $0.isASCIIAlnum || $0 == UInt8(ascii: "-") }   // Slack
            }
            if hasPrefix("xapp-", at: i) { return body(5, min: 10, max: 255) { $0.isASCIIAlnum || $0 == UInt8(ascii: "-") } }
        case UInt8(ascii: "s"):
            if hasPrefix("sk_live_", at: i) || hasPrefix("sk_test_", at: i) { return body(8, min: 16, max: 255, alnum) }  // Stripe
            if hasPrefix("sk-", at: i) { return body(3, min: 20, max: 255, urlSafe) }     // OpenAI, Anthropic
            if hasPrefix("shpat_", at: i) || hasPrefix("shpss_", at: i) { return body(6, min: 32, max: 32) { $0.isASCIIHexDigit } }
        case UInt8(ascii: "r"):
            if hasPrefix("rk_live_", at: i) || hasPrefix("rk_test_", at: i) { return body(8, min: 16, max: 255, alnum) }
        case UInt8(ascii: "w"):
            if hasPrefix("whsec_", at: i) { return body(6, min: 16, max: 255, alnum) }
        case UInt8(ascii: "n"):
            if hasPrefix("npm_", at: i) { return body(4, min: 36, max: 36, alnum) }
        case UInt8(ascii: "h"):
            if hasPrefix("hf_", at: i) { return body(3, min: 30, max: 40, alnum) }         // Hugging Face
        case UInt8(ascii: "d"):
            if hasPrefix("dop_v1_", at: i) { return body(7, min: 64, max: 64) { $0.isASCIIHexDigit } }
        case UInt8(ascii: "p"):
            if hasPrefix("pypi-", at: i) { return body(5, min: 50, max: 300, urlSafe) }
        case UInt8(ascii: "S"):
            if hasPrefix("SG.", at: i) {                                                    // SendGrid
                let first = run(from: i + 3, limit: 64, urlSafe)
                guard first >= 16, at(i + 3 + first) == UInt8(ascii: ".") else { return nil }
                let second = run(from: i + 4 + first, limit: 128, urlSafe)
                return second >= 16 ? i + 4 + first + second : nil
            }
        case UInt8(ascii: "e"):
            return jsonWebTokenEnd(at: i)
        default:
            break
        }
        return nil
    }

    /// `eyJ…` header, payload and (possibly empty) signature, base64url (RFC 7519).
    func jsonWebTokenEnd(at i: Int) -> Int? {
        guard hasPrefix("eyJ", at: i) else { return nil }
        let segment: (UInt8) -> Bool = { $0.isASCIIAlnum || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
        let header = run(from: i, limit: 4096, segment)
        guard header >= 10, at(i + header) == UInt8(ascii: ".") else { return nil }
        let payloadStart = i + header + 1
        let payload = run(from: payloadStart, limit: 16384, segment)
        guard payload >= 10, at(payloadStart + payload) == UInt8(ascii: ".") else { return nil }
        let signatureStart = payloadStart + payload + 1
        let signature = run(from: signatureStart, limit: 4096, segment)
        return signatureStart + signature
    }

    // MARK: IBAN

    /// ISO 13616 IBANs of the countries below, electronic or printed in groups of four, with
    /// a valid mod-97 check.
    func ibanEnd(at i: Int) -> Int? {
        guard at(i + 2).isASCIIDigit, at(i + 3).isASCIIDigit,
              let length = Self.ibanLengths[UInt16(at(i)) << 8 | UInt16(at(i + 1))]
        else { return nil }
        var characters = [UInt8]()
        characters.reserveCapacity(length)
        var j = i
        while characters.count < length {
            let c = at(j)
            if c.isASCIIUpper || c.isASCIIDigit {
                characters.append(c)
                j += 1
            } else if c == UInt8(ascii: " "), characters.count % 4 == 0, at(j + 1).isASCIIUpper || at(j + 1).isASCIIDigit {
                j += 1
            } else {
                return nil
            }
        }
        guard !at(j).isWordByte else { return nil }
        // Move the first four characters to the end, letters as 10–35, mod 97 must be 1.
        var remainder = 0
        for c in characters[4...] + characters[..<4] {
            if c.isASCIIDigit {
                remainder = (remainder * 10 + c.digitValue) % 97
            } else {
                remainder = (remainder * 100 + Int(c - UInt8(ascii: "A")) + 10) % 97
            }
        }
        return remainder == 1 ? j : nil
    }

    static let ibanLengths: [UInt16: Int] = {
        let table = """
            AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BR29 CH21 CR22 CY28 CZ24 DE22 DK18 DO28 EE20 EG29 ES24
            FI18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IS26 IT27 JO30 KW30 KZ20 LB28 LI21
            LT20 LU20 LV21 MC27 MD24 ME22 MK19 MR27 MT31 MU30 NL18 NO15 PK24 PL28 PS29 PT25 QA29 RO24 RS22 SA24
            SE24 SI19 SK24 SM27 TN24 TR26 UA29 VG24 XK20
            """
        var lengths: [UInt16: Int] = [:]
        for entry in table.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            let bytes = Array(entry.utf8)
            lengths[UInt16(bytes[0]) << 8 | UInt16(bytes[1])] = Int(String(entry.dropFirst(2)))!
        }
        return lengths
    }()

    // MARK: Secret assignments

    /// Identifiers whose value is a secret (compared on the lower-cased identifier's end).
    static let secretNameSuffixes: [StaticString] = [
        "password", "passwd", "pwd", "passphrase", "secret", "token", "apikey", "api_key", "api-key",
        "access_key", "secret_key", "private_key",
    ]

    /// `password=…`, `DB_PASSWORD: …`, `"client_secret": "…"`, `x-api-key: …`: the value is
    /// redacted, the name kept. Runs at each `=` and `:`, reading the name backwards.
    /// Unquoted values need a digit (so `password: string`, `token = get_token()` stay);
    /// placeholders (`<…>`, `${…}`, `****`) stay.
    mutating func detectSecretAssignment(operatorAt op: Int) -> Int? {
        var nameEnd = op
        while at(nameEnd - 1) == UInt8(ascii: " ") || at(nameEnd - 1) == 9 { nameEnd -= 1 }
        // `config["SECRET_KEY"] = …`: a quoted subscript.
        if at(nameEnd - 1) == UInt8(ascii: "]") { nameEnd -= 1 }
        if at(nameEnd - 1) == UInt8(ascii: "\"") || at(nameEnd - 1) == UInt8(ascii: "'") { nameEnd -= 1 }
        var i = nameEnd
        while i > 0, nameEnd - i <= 64, at(i - 1).isWordByte || at(i - 1) == UInt8(ascii: "-") { i -= 1 }
        let nameLength = nameEnd - i
        // Every suffix ends in one of these pairs; most names are rejected here.
        let last = at(nameEnd - 1).asciiLowercased, before = at(nameEnd - 2).asciiLowercased
        let e = UInt8(ascii: "e")
        let plausible = switch last {
        case UInt8(ascii: "d"): before == UInt8(ascii: "r") || before == UInt8(ascii: "w")
        case e: before == UInt8(ascii: "s")
        case UInt8(ascii: "t"), UInt8(ascii: "n"), UInt8(ascii: "y"): before == e
        default: false
        }
        guard (3...64).contains(nameLength), plausible,
              Self.secretNameSuffixes.contains(where: { suffix in
                  let start = nameEnd - suffix.utf8CodeUnitCount
                  guard start >= i, hasPrefixIgnoringCase(suffix, at: start) else { return false }
                  // A whole word of the name: "DB_PASSWORD", "dbPassword", not "passwordHash" or "mytoken".
                  return start == i || !at(start - 1).isASCIILetter || (at(start).isASCIIUpper && at(start - 1).isASCIILower)
              })
        else { return nil }
        var j = nameEnd
        if at(j) == UInt8(ascii: "\"") || at(j) == UInt8(ascii: "'") { j += 1 }
        if at(j) == UInt8(ascii: "]") { j += 1 }
        while at(j) == UInt8(ascii: " ") || at(j) == 9 { j += 1 }
        switch at(j) {
        case UInt8(ascii: "="):
            guard at(j + 1) != UInt8(ascii: "=") else { return nil }
            j += at(j + 1) == UInt8(ascii: ">") ? 2 : 1
        case UInt8(ascii: ":"):
            guard at(j + 1) != UInt8(ascii: ":") else { return nil }
            j += at(j + 1) == UInt8(ascii: "=") ? 2 : 1
        default:
            return nil
        }
        while at(j) == UInt8(ascii: " ") || at(j) == 9 { j += 1 }
        let quote = at(j)
        if quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") || quote == UInt8(ascii: "`") {
            let start = j + 1
            let length = run(from: start, limit: 513) { $0 != quote && $0 != 10 }
            guard at(start + length) == quote, (4...512).contains(length), !isPlaceholderValue(start..<(start + length)) else { return nil }
            append(.apiKey, start..<(start + length))
            return start + length + 1
        }
        let length = run(from: j, limit: 513) { c in
            !(c == 32 || c == 9 || c == 10 || c == 13 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") || c == UInt8(ascii: "`")
              || c == UInt8(ascii: ",") || c == UInt8(ascii: ";") || c == UInt8(ascii: "}") || c == UInt8(ascii: ")") || c == UInt8(ascii: "]"))
        }
        let value = j..<(j + length)
        guard (6...512).contains(length), value.contains(where: { at($0).isASCIIDigit }),
              !value.contains(where: { at($0) == UInt8(ascii: "(") || at($0) == UInt8(ascii: "[") }),
              !isPlaceholderValue(value)
        else { return nil }
        append(.apiKey, value)
        return value.upperBound
    }

    /// `<your-key>`, `${VAR}`, `{{ secret }}`, `%(pw)s`, `[API_KEY]`, `****`, `xxxx`.
    func isPlaceholderValue(_ value: Range<Int>) -> Bool {
        let first = at(value.lowerBound)
        if first == UInt8(ascii: "<") || first == UInt8(ascii: "$") || first == UInt8(ascii: "{")
            || first == UInt8(ascii: "%") || first == UInt8(ascii: "[") {
            return true
        }
        if value.allSatisfy({ at($0) == first }) { return true }
        if value.count >= 3, value.dropLast(2).contains(where: { hasPrefixIgnoringCase("your", at: $0) }) { return true }
        return false
    }
}

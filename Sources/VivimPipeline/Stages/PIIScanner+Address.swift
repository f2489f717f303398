import Foundation

/// Street lines where their shape gives them away: `742 Evergreen Terrace`, `350 Fifth
/// Avenue, Suite 3300`, `12 rue de la Paix`, `Hauptstraße 12`, `Calle Mayor 10`. Without a
/// street word (Street, Ave, rue, -straße, Via …) nothing is matched, so "3 miles down the
/// road" and "Top 10 Park Hotels" stay. City, postcode and country are left in place.
extension PIIScanner {
    static let streetSuffixes: [StaticString] = [
        "street", "st", "avenue", "ave", "av", "road", "rd", "boulevard", "blvd", "lane", "ln", "drive", "dr",
        "court", "ct", "place", "pl", "terrace", "ter", "way", "parkway", "pkwy", "highway", "hwy", "circle", "cir",
        "square", "sq", "close", "crescent", "cres", "gardens", "loop", "alley", "row", "walk", "grove", "mews",
        "trail", "plaza", "quay",
    ]
    static let abbreviatedStreetSuffixes: [StaticString] = [
        "st", "ave", "av", "rd", "blvd", "ln", "dr", "ct", "pl", "ter", "pkwy", "hwy", "cir", "sq", "cres",
    ]
    static let unitWords: [StaticString] = ["apt", "apartment", "suite", "ste", "unit", "flat", "fl", "floor", "room"]
    static let frenchStreetWords: [StaticString] = ["rue", "avenue", "boulevard", "bd", "place", "chemin", "impasse", "quai", "cours", "allée"]
    static let frenchParticles: [StaticString] = ["de", "du", "des", "la", "le", "les", "d'", "l'"]
    /// Name-first streets: the number follows the name.
    static let streetPrefixes: [StaticString] = ["Calle", "Avenida", "Via", "Viale", "Piazza", "Rua", "Carrer", "Plaza", "Paseo", "Corso"]
    /// Compound street words (German, Dutch): `Hauptstraße`, `Lindenweg`, `Keizersgracht`.
    static let compoundStreetEndings: [StaticString] = ["straße", "strasse", "str.", "weg", "gasse", "platz", "allee", "straat", "laan", "gracht"]

    /// Length of the word at `index` made of ASCII letters, apostrophes inside it, and
    /// non-ASCII bytes (so `Hauptstraße` and `King's` are one word).
    func wordLength(at index: Int) -> Int {
        var j = index
        while true {
            let c = at(j)
            if c.isASCIILetter || c >= 0x80 {
                j += 1
            } else if (c == UInt8(ascii: "'")) && at(j - 1).isASCIILetter && at(j + 1).isASCIILetter {
                j += 1
            } else {
                return j - index
            }
        }
    }

    func isWord(_ range: Range<Int>, oneOf words: [StaticString]) -> Bool {
        words.contains { $0.utf8CodeUnitCount == range.count && hasPrefixIgnoringCase($0, at: range.lowerBound) }
    }

    /// The house number with an optional letter, `12`, `221B`, `5a`; returns its end.
    func houseNumberEnd(at index: Int) -> Int? {
        let digits = run(from: index, limit: 6) { $0.isASCIIDigit }
        guard (1...5).contains(digits), at(index) != UInt8(ascii: "0") else { return nil }
        var end = index + digits
        if at(end).isASCIILetter, !at(end + 1).isWordByte { end += 1 }
        return at(end).isWordByte ? nil : end
    }

    mutating func detectStreetAddress(startingWithNumberAt i: Int) -> Int? {
        guard let numberEnd = houseNumberEnd(at: i), at(numberEnd) == UInt8(ascii: " ") else { return nil }
        let first = numberEnd + 1
        // French: "12 rue de la Paix".
        let streetWord = wordLength(at: first)
        if streetWord > 0, isWord(first..<(first + streetWord), oneOf: Self.frenchStreetWords), at(first + streetWord) == UInt8(ascii: " ") {
            var j = first + streetWord + 1
            var end: Int?
            for _ in 0..<5 {
                let length = wordLength(at: j)
                guard length > 0 else { break }
                let isParticle = isWord(j..<(j + length), oneOf: Self.frenchParticles)
                    || (length == 2 && (at(j + 1) == UInt8(ascii: "'")))
                if at(j).isASCIIUpper { end = j + length } else if !isParticle { break }
                j += length
                if at(j) == UInt8(ascii: " ") { j += 1 } else if at(j - 1) != UInt8(ascii: "'") { break }
            }
            if let end {
                append(.streetAddress, i..<end)
                return end
            }
            return nil
        }
        // English: number, one to four name words, a street suffix, an optional unit.
        var j = first
        var names = 0
        while names <= 4 {
            let c = at(j)
            var length = 0
            if c.isASCIIUpper {
                length = wordLength(at: j)
            } else if c.isASCIIDigit {
                // Ordinal street names: "5th", "34th".
                let digits = run(from: j, limit: 4) { $0.isASCIIDigit }
                let suffix = wordLength(at: j + digits)
                let word = (j + digits)..<(j + digits + suffix)
                guard suffix == 2, isWord(word, oneOf: ["st", "nd", "rd", "th"]) else { return nil }
                length = digits + suffix
            } else if names >= 1, c.isASCIILower {
                length = wordLength(at: j)
                guard isWord(j..<(j + length), oneOf: ["street", "avenue", "road", "boulevard", "lane", "drive"]) else { return nil }
            }
            guard length > 0 else { return nil }
            let word = j..<(j + length)
            if names >= 1, c.isASCIILetter, isWord(word, oneOf: Self.streetSuffixes) {
                var end = word.upperBound
                if at(end) == UInt8(ascii: "."), isWord(word, oneOf: Self.abbreviatedStreetSuffixes) { end += 1 }
                end = unitEnd(after: end) ?? end
                guard !at(end).isWordByte else { return nil }
                append(.streetAddress, i..<end)
                return end
            }
            names += 1
            j = word.upperBound
            if at(j) == UInt8(ascii: ".") && length == 1 { j += 1 }       // "N. Lamar"
            guard at(j) == UInt8(ascii: " "), at(j + 1).isASCIIAlnum else { return nil }
            j += 1
        }
        return nil
    }

    /// `, Apt 2B`, ` Suite 3300`, `, Flat 4`, ` #12` after a street; returns the new end.
    func unitEnd(after index: Int) -> Int? {
        var j = index
        if at(j) == UInt8(ascii: ",") { j += 1 }
        guard at(j) == UInt8(ascii: " ") else { return nil }
        j += 1
        if at(j) != UInt8(ascii: "#") {
            let length = wordLength(at: j)
            guard length > 0, at(j).isASCIIUpper, isWord(j..<(j + length), oneOf: Self.unitWords) else { return nil }
            j += length
            if at(j) == UInt8(ascii: ".") { j += 1 }
            guard at(j) == UInt8(ascii: " ") else { return nil }
        }
        j += 1
        let id = run(from: j, limit: 7) { $0.isASCIIAlnum || $0 == UInt8(ascii: "-") }
        guard (1...6).contains(id), at(j).isASCIIDigit || at(j).isASCIIUpper, !at(j + id).isWordByte else { return nil }
        return j + id
    }

    mutating func detectStreetAddress(startingWithNameAt i: Int) -> Int? {
        let length = wordLength(at: i)
        guard length >= 3 else { return nil }
        // Name first: "Calle Mayor 10", "Via Roma 25".
        if Self.streetPrefixes.contains(where: { $0.utf8CodeUnitCount == length && hasPrefix($0, at: i) }) {
            var j = i + length
            var names = 0
            while names < 4, at(j) == UInt8(ascii: " ") {
                let next = j + 1
                if at(next).isASCIIDigit, names >= 1, let end = houseNumberEnd(at: next), endsToken(at: end) {
                    append(.streetAddress, i..<end)
                    return end
                }
                let word = wordLength(at: next)
                guard word > 0, at(next).isASCIIUpper || isWord(next..<(next + word), oneOf: ["de", "del", "di", "da", "dos", "la"]) else { return nil }
                names += 1
                j = next + word
                if at(j) == UInt8(ascii: ","), at(j + 1) == UInt8(ascii: " "), at(j + 2).isASCIIDigit { j += 1 }
            }
            return nil
        }
        // Compound: "Hauptstraße 12", "Schillerstr. 5a".
        var wordEnd = i + length
        if at(wordEnd) == UInt8(ascii: ".") { wordEnd += 1 }
        guard at(wordEnd) == UInt8(ascii: " "), at(wordEnd + 1).isASCIIDigit,
              Self.compoundStreetEndings.contains(where: { ending in
                  let n = ending.utf8CodeUnitCount
                  return wordEnd - i >= n + 3 && hasPrefixIgnoringCase(ending, at: wordEnd - n)
              }),
              let end = houseNumberEnd(at: wordEnd + 1), endsToken(at: end)
        else { return nil }
        append(.streetAddress, i..<end)
        return end
    }
}

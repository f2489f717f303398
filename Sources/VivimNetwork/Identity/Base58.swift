/// Base58 with the Bitcoin alphabet ("base58btc"), the text form of libp2p peer ids
/// (multiformats/multibase, draft-msporny-base58).
public enum Base58 {
    static let alphabet = Array("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz".utf8)
    static let decodeTable: [Int8] = {
        var table = [Int8](repeating: -1, count: 128)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = Int8(i) }
        return table
    }()

    public static func encode(_ bytes: [UInt8]) -> String {
        let zeros = bytes.prefix { $0 == 0 }.count
        var digits: [UInt8] = []  // base58 digits, little-endian
        digits.reserveCapacity(bytes.count * 138 / 100 + 1)
        for byte in bytes[zeros...] {
            var carry = Int(byte)
            for i in digits.indices {
                carry += Int(digits[i]) << 8
                digits[i] = UInt8(carry % 58)
                carry /= 58
            }
            while carry > 0 {
                digits.append(UInt8(carry % 58))
                carry /= 58
            }
        }
        var out = [UInt8](repeating: alphabet[0], count: zeros)
        out.append(contentsOf: digits.reversed().map { alphabet[Int($0)] })
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes base58btc text; `maxLength` bounds the input to keep decoding cost linear-bounded.
    public static func decode(_ text: String, maxLength: Int = 256) throws(WireError) -> [UInt8] {
        let chars = Array(text.utf8)
        guard chars.count <= maxLength else {
            throw .lengthExceedsLimit(length: UInt64(chars.count), limit: maxLength)
        }
        let zeros = chars.prefix { $0 == alphabet[0] }.count
        var bytes: [UInt8] = []  // little-endian
        for c in chars[zeros...] {
            guard c < 128, decodeTable[Int(c)] >= 0 else { throw .invalidValue("invalid base58 character") }
            var carry = Int(decodeTable[Int(c)])
            for i in bytes.indices {
                carry += Int(bytes[i]) * 58
                bytes[i] = UInt8(carry & 0xff)
                carry >>= 8
            }
            while carry > 0 {
                bytes.append(UInt8(carry & 0xff))
                carry >>= 8
            }
        }
        return [UInt8](repeating: 0, count: zeros) + bytes.reversed()
    }
}

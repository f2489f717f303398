/// Base58 with the Bitcoin alphabet, as used by multibase `z` (base58btc).
///
/// Decoding is bounded: inputs longer than `maxEncodedLength` are refused before any
/// arithmetic, because base58 decoding is quadratic in the input length.
public enum Base58 {
    static let alphabet = Array("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz".utf8)
    static let decodeTable: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = Int8(index) }
        return table
    }()

    public static let maxEncodedLength = 256

    public static func encode(_ bytes: [UInt8]) -> String {
        let zeros = bytes.prefix(while: { $0 == 0 }).count
        var digits: [UInt8] = []  // little-endian base-58 digits
        digits.reserveCapacity(bytes.count * 138 / 100 + 1)
        for byte in bytes[zeros...] {
            var carry = Int(byte)
            for index in digits.indices {
                carry += Int(digits[index]) << 8
                digits[index] = UInt8(carry % 58)
                carry /= 58
            }
            while carry > 0 {
                digits.append(UInt8(carry % 58))
                carry /= 58
            }
        }
        var result = [UInt8](repeating: alphabet[0], count: zeros)
        result.append(contentsOf: digits.reversed().map { alphabet[Int($0)] })
        return String(decoding: result, as: UTF8.self)
    }

    /// Returns nil for characters outside the alphabet or an input longer than `maxLength`.
    public static func decode(_ string: String, maxLength: Int = maxEncodedLength) -> [UInt8]? {
        let input = Array(string.utf8)
        guard input.count <= maxLength else { return nil }
        let zeros = input.prefix(while: { $0 == alphabet[0] }).count
        var bytes: [UInt8] = []  // little-endian base-256
        for character in input[zeros...] {
            let value = decodeTable[Int(character)]
            guard value >= 0 else { return nil }
            var carry = Int(value)
            for index in bytes.indices {
                carry += Int(bytes[index]) * 58
                bytes[index] = UInt8(carry & 0xff)
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

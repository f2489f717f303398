import Crypto

/// A multihash: `<varint code><varint digest length><digest>` (multiformats/multihash).
///
/// Only the codes VivimNetwork uses are recognised by name; others decode
/// generically so that peer ids of other key types can be carried.
public struct Multihash: Hashable, Sendable {
    /// `identity` (0x00): the "digest" is the data itself; libp2p uses it for keys of at most 42 bytes.
    public static let identityCode: UInt64 = 0x00
    /// `sha2-256` (0x12).
    public static let sha256Code: UInt64 = 0x12
    /// Longest digest accepted when decoding untrusted input.
    public static let maxDigestLength = 128

    public let code: UInt64
    public let digest: [UInt8]

    public init(code: UInt64, digest: [UInt8]) {
        self.code = code
        self.digest = digest
    }

    public static func identity(_ data: [UInt8]) -> Multihash { Multihash(code: identityCode, digest: data) }

    public static func sha256(_ data: [UInt8]) -> Multihash {
        Multihash(code: sha256Code, digest: Array(SHA256.hash(data: data)))
    }

    public var bytes: [UInt8] {
        var out = UVarint.encode(code)
        out.appendUVarint(UInt64(digest.count))
        out.append(contentsOf: digest)
        return out
    }

    /// Parses a complete multihash; trailing bytes are an error.
    public init(bytes: [UInt8]) throws(WireError) {
        var cursor = ByteCursor(bytes)
        try self.init(from: &cursor)
        guard cursor.isAtEnd else { throw .invalidValue("trailing bytes after multihash") }
    }

    init(from cursor: inout ByteCursor) throws(WireError) {
        let code = try cursor.readUVarint()
        let length = try cursor.readUVarint()
        guard length <= UInt64(Multihash.maxDigestLength) else {
            throw .lengthExceedsLimit(length: length, limit: Multihash.maxDigestLength)
        }
        if code == Multihash.sha256Code && length != 32 { throw .invalidValue("sha2-256 digest must be 32 bytes") }
        self.code = code
        self.digest = try cursor.readBytes(Int(length))
    }
}

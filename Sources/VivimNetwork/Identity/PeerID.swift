import VivimCore

/// A libp2p peer id: the multihash of the protobuf-encoded public key — the
/// identity multihash when that encoding is at most 42 bytes (Ed25519 always
/// is), otherwise sha2-256 (libp2p/specs peer-ids.md). Its text form is the
/// base58btc encoding of the multihash bytes, `12D3KooW…` for Ed25519.
public struct PeerID: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public let multihash: Multihash
    /// The peer's position in the Kademlia keyspace, SHA-256 of ``bytes``,
    /// computed once because DHT routing compares it constantly.
    public let dhtKey: KadKey

    public static func == (a: PeerID, b: PeerID) -> Bool { a.multihash == b.multihash }
    public func hash(into hasher: inout Hasher) { hasher.combine(dhtKey.w0) }

    /// Longest encoded public key that is inlined with the identity multihash.
    public static let maxInlineKeyLength = 42

    public init(publicKey: PeerPublicKey) {
        let encoded = publicKey.protobufEncoded
        multihash = encoded.count <= Self.maxInlineKeyLength ? .identity(encoded) : .sha256(encoded)
        dhtKey = KadKey(hashing: multihash.bytes)
    }

    /// Parses the binary form (a multihash) received from the network.
    public init(bytes: [UInt8]) throws(WireError) {
        let mh = try Multihash(bytes: bytes)
        switch mh.code {
        case Multihash.identityCode:
            guard mh.digest.count <= Self.maxInlineKeyLength else { throw .invalidValue("identity peer id too long") }
            _ = try PeerPublicKey(protobuf: mh.digest)
        case Multihash.sha256Code:
            break
        default:
            throw .invalidValue("peer id multihash must be identity or sha2-256")
        }
        self.multihash = mh
        self.dhtKey = KadKey(hashing: mh.bytes)
    }

    /// Parses the legacy base58btc text form (`12D3KooW…`, `Qm…`).
    public init(string: String) throws(WireError) {
        guard let bytes = Base58.decode(string, maxLength: 128) else { throw .invalidValue("peer id is not base58btc of at most 128 characters") }
        try self.init(bytes: bytes)
    }

    public var bytes: [UInt8] { multihash.bytes }

    /// The public key inlined in the id, if any (always for Ed25519 ids).
    public var inlinePublicKey: PeerPublicKey? {
        guard multihash.code == Multihash.identityCode else { return nil }
        return try? PeerPublicKey(protobuf: multihash.digest)
    }

    /// Whether `key` is the key this id was derived from.
    public func matches(_ key: PeerPublicKey) -> Bool { PeerID(publicKey: key) == self }

    public var description: String { Base58.encode(bytes) }

    /// A total order that is cheap to evaluate (by DHT key, then by multihash);
    /// used to make iteration over peer sets deterministic.
    public static func < (lhs: PeerID, rhs: PeerID) -> Bool {
        if lhs.dhtKey != rhs.dhtKey { return lhs.dhtKey < rhs.dhtKey }
        if lhs.multihash.code != rhs.multihash.code { return lhs.multihash.code < rhs.multihash.code }
        return lhs.multihash.digest.lexicographicallyPrecedes(rhs.multihash.digest)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        try self.init(string: text)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

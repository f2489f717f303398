/// A user's decentralized identifier (SPEC §1).
///
/// The canonical form is `did:vivim:<id>`, where `<id>` is the method-specific id of the
/// W3C `did:key` encoding of an Ed25519 public key: multibase base58btc (`z`) of the
/// multicodec `ed25519-pub` varint (`0xed 0x01`) followed by the 32 key bytes. The DID is
/// self-certifying: the verification key is read from it. `did:key:<id>` is accepted and
/// normalized. Parsing is strict, so a value of this type is always safe to hash into a path.
public struct DID: Hashable, Sendable, CustomStringConvertible, Codable, Comparable {
    /// The multibase method-specific id, `z6Mk…`.
    public let methodSpecificID: String
    /// The raw 32-byte Ed25519 public key.
    public let publicKey: [UInt8]

    static let multicodecEd25519: [UInt8] = [0xed, 0x01]
    static let maximumLength = 128

    public init(parsing text: String) throws(VivimError) {
        guard text.utf8.count <= Self.maximumLength else {
            throw .validation("DID is too long", field: "did")
        }
        let id: Substring
        if text.hasPrefix("did:vivim:") {
            id = text.dropFirst("did:vivim:".count)
        } else if text.hasPrefix("did:key:") {
            id = text.dropFirst("did:key:".count)
        } else {
            throw .validation("DID must be did:vivim:<id> or did:key:<id>", field: "did")
        }
        guard id.first == "z", let decoded = Base58.decode(String(id.dropFirst())),
              decoded.count == 34, Array(decoded.prefix(2)) == Self.multicodecEd25519
        else {
            throw .validation("DID is not a base58btc multicodec Ed25519 key (z6Mk…)", field: "did")
        }
        self.methodSpecificID = String(id)
        self.publicKey = Array(decoded.dropFirst(2))
    }

    /// The DID of an Ed25519 public key.
    public init(ed25519PublicKey key: [UInt8]) throws(VivimError) {
        guard key.count == 32 else { throw .validation("Ed25519 public keys are 32 bytes", field: "publicKey") }
        self.publicKey = key
        self.methodSpecificID = "z" + Base58.encode(Self.multicodecEd25519 + key)
    }

    public var description: String { "did:vivim:\(methodSpecificID)" }
    /// The equivalent W3C `did:key` form.
    public var didKey: String { "did:key:\(methodSpecificID)" }

    public static func < (lhs: DID, rhs: DID) -> Bool { lhs.methodSpecificID < rhs.methodSpecificID }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        self = try DID(parsing: text)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

import Crypto

/// libp2p key types of the `PublicKey`/`PrivateKey` protobuf (libp2p/specs peer-ids.md).
public enum KeyType: UInt64, Sendable {
    case rsa = 0, ed25519 = 1, secp256k1 = 2, ecdsa = 3
}

/// A peer's public identity key. VivimNetwork signs with Ed25519 only; other
/// key types are accepted as bytes (so peer ids round-trip) but cannot verify.
public struct PeerPublicKey: Hashable, Sendable {
    public let type: KeyType
    public let data: [UInt8]

    public init(ed25519 key: Curve25519.Signing.PublicKey) {
        self.type = .ed25519
        self.data = Array(key.rawRepresentation)
    }

    public init(type: KeyType, data: [UInt8]) {
        self.type = type
        self.data = data
    }

    /// The deterministic protobuf encoding: `PublicKey { Type = 1; Data = 2 }`.
    public var protobufEncoded: [UInt8] {
        var w = ProtobufWriter()
        w.writeVarint(field: 1, type.rawValue)
        w.writeBytes(field: 2, data)
        return w.bytes
    }

    /// Maximum size of an encoded public key accepted from the network (RSA 4096 fits).
    public static let maxEncodedLength = 1024

    public init(protobuf bytes: [UInt8]) throws(WireError) {
        guard bytes.count <= Self.maxEncodedLength else {
            throw .lengthExceedsLimit(length: UInt64(bytes.count), limit: Self.maxEncodedLength)
        }
        var reader = ProtobufReader(bytes, maxFields: 8)
        var type: KeyType?
        var data: [UInt8]?
        while let (field, value) = try reader.next() {
            switch field {
            case 1:
                guard let t = KeyType(rawValue: try value.uint64(field: 1)) else { throw .invalidValue("unknown key type") }
                type = t
            case 2: data = try value.data(field: 2)
            default: continue
            }
        }
        guard let type else { throw .missingField("PublicKey.Type") }
        guard let data else { throw .missingField("PublicKey.Data") }
        if type == .ed25519 && data.count != 32 { throw .invalidValue("Ed25519 public key must be 32 bytes") }
        self.type = type
        self.data = data
    }

    /// Verifies an Ed25519 signature; `false` for any other key type.
    public func verify(signature: [UInt8], for message: [UInt8]) -> Bool {
        guard type == .ed25519, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: data) else { return false }
        return key.isValidSignature(signature, for: message)
    }

    public var peerID: PeerID { PeerID(publicKey: self) }
}

/// A node's Ed25519 identity key pair.
public struct PeerKeyPair: Sendable {
    public let privateKey: Curve25519.Signing.PrivateKey

    public init(privateKey: Curve25519.Signing.PrivateKey = .init()) {
        self.privateKey = privateKey
    }

    /// Derives a key pair from a 32-byte seed (tests and simulations).
    public init(seed: [UInt8]) throws {
        self.privateKey = try Curve25519.Signing.PrivateKey(rawRepresentation: seed)
    }

    public var publicKey: PeerPublicKey { PeerPublicKey(ed25519: privateKey.publicKey) }
    public var peerID: PeerID { publicKey.peerID }

    public func sign(_ message: [UInt8]) throws -> [UInt8] {
        Array(try privateKey.signature(for: message))
    }

    /// The libp2p `PrivateKey` protobuf: Type = Ed25519, Data = 32-byte seed ‖ 32-byte public key.
    public var protobufEncoded: [UInt8] {
        var w = ProtobufWriter()
        w.writeVarint(field: 1, KeyType.ed25519.rawValue)
        w.writeBytes(field: 2, Array(privateKey.rawRepresentation) + Array(privateKey.publicKey.rawRepresentation))
        return w.bytes
    }

    public init(protobuf bytes: [UInt8]) throws {
        var reader = ProtobufReader(bytes, maxFields: 8)
        var type: UInt64?
        var data: [UInt8]?
        while let (field, value) = try reader.next() {
            switch field {
            case 1: type = try value.uint64(field: 1)
            case 2: data = try value.data(field: 2)
            default: continue
            }
        }
        guard type == KeyType.ed25519.rawValue else { throw WireError.invalidValue("only Ed25519 private keys are supported") }
        guard let data, data.count == 64 || data.count == 32 else { throw WireError.invalidValue("Ed25519 private key must be 32 or 64 bytes") }
        let key = try Curve25519.Signing.PrivateKey(rawRepresentation: data.prefix(32))
        if data.count == 64 && Array(key.publicKey.rawRepresentation) != Array(data.suffix(32)) {
            throw WireError.invalidValue("Ed25519 private key does not match its public half")
        }
        self.privateKey = key
    }
}

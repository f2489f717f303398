import Crypto
import Foundation
import VivimCore

extension EncryptionKey {
    /// Parses a published key: the bytes must be a valid public key of the named suite.
    public init(algorithm: EncryptionKeyAlgorithm, base64URL text: String, field: String = "encryptionKey.key") throws(VivimError) {
        guard let bytes = Base64URL.decode(text) else {
            throw .validation("key must be base64url without padding", field: field)
        }
        do {
            switch algorithm {
            case .xWing: _ = try XWingMLKEM768X25519.PublicKey(rawRepresentation: bytes)
            case .mlKem1024: _ = try MLKEM1024.PublicKey(rawRepresentation: bytes)
            }
        } catch {
            throw .validation("key is not a valid \(algorithm.rawValue) public key", field: field)
        }
        self.init(algorithm: algorithm, key: bytes)
    }

    public var base64URL: String { Base64URL.encode(key) }
}

/// A user's encryption key pair, kept on their device. The server only ever sees the public half.
public enum EncryptionKeyPair: Sendable {
    case xWing(XWingMLKEM768X25519.PrivateKey)
    case mlKem1024(MLKEM1024.PrivateKey)

    public static func generate(_ algorithm: EncryptionKeyAlgorithm = .xWing) throws -> EncryptionKeyPair {
        switch algorithm {
        case .xWing: .xWing(try XWingMLKEM768X25519.PrivateKey.generate())
        case .mlKem1024: .mlKem1024(try MLKEM1024.PrivateKey.generate())
        }
    }

    public var publicKey: EncryptionKey {
        switch self {
        case .xWing(let key): EncryptionKey(algorithm: .xWing, key: Array(key.publicKey.rawRepresentation))
        case .mlKem1024(let key): EncryptionKey(algorithm: .mlKem1024, key: Array(key.publicKey.rawRepresentation))
        }
    }

    /// The private key's storage form (the seed for X-Wing and ML-KEM).
    public var secretRepresentation: [UInt8] {
        switch self {
        case .xWing(let key): Array(key.seedRepresentation)
        case .mlKem1024(let key): Array(key.seedRepresentation)
        }
    }

    public init(algorithm: EncryptionKeyAlgorithm, secretRepresentation bytes: [UInt8]) throws {
        switch algorithm {
        case .xWing: self = .xWing(try XWingMLKEM768X25519.PrivateKey(seedRepresentation: bytes, publicKey: nil))
        case .mlKem1024: self = .mlKem1024(try MLKEM1024.PrivateKey(seedRepresentation: bytes, publicKey: nil))
        }
    }
}

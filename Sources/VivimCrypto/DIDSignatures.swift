import Crypto
import Foundation
import VivimCore

extension DID {
    /// Checks an Ed25519 signature by this DID's key (the DID is self-certifying).
    public func verifies(signature: [UInt8], over message: [UInt8]) -> Bool {
        guard signature.count == 64,
              let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey)
        else { return false }
        return key.isValidSignature(signature, for: message)
    }

    /// Checks a base64url signature; a malformed encoding is a failed check, not a crash.
    public func verifies(base64URLSignature: String, over message: [UInt8]) -> Bool {
        guard let signature = Base64URL.decode(base64URLSignature) else { return false }
        return verifies(signature: signature, over: message)
    }
}

/// An Ed25519 key pair and the DID it stands for. Lives on the user's device (the CLI's
/// home directory) and, for the server's own token key, in the master store.
public struct SigningIdentity: Sendable {
    public let privateKey: Curve25519.Signing.PrivateKey
    public let did: DID

    public init() {
        self.init(privateKey: Curve25519.Signing.PrivateKey())
    }

    public init(privateKey: Curve25519.Signing.PrivateKey) {
        self.privateKey = privateKey
        // A 32-byte Ed25519 key always makes a valid DID.
        self.did = try! DID(ed25519PublicKey: Array(privateKey.publicKey.rawRepresentation))
    }

    public init(seed: [UInt8]) throws {
        self.init(privateKey: try Curve25519.Signing.PrivateKey(rawRepresentation: seed))
    }

    public var seed: [UInt8] { Array(privateKey.rawRepresentation) }

    public func sign(_ message: [UInt8]) -> [UInt8] {
        // Signing with a valid key cannot fail in swift-crypto's Ed25519.
        Array(try! privateKey.signature(for: message))
    }

    public func signBase64URL(_ message: [UInt8]) -> String { Base64URL.encode(sign(message)) }
}

import Crypto
import Foundation
import VivimCore

/// The owner's permission for a key held by their home server to sign bundles in their name
/// (docs/bundle-format.md §2.1, docs/decisions/0004). The home server runs the publishing
/// pipeline — also at a scheduled `publishAt`, when the owner's device may be offline — but never
/// holds the owner's DID key. The owner signs, with that key,
/// `vivim/delegation/v1|<ownerDid>|<base64url delegate key>|<notAfter>`; a bundle carrying the
/// delegation is signed by the delegate key, and a reader checks both links of the chain.
public struct PublishingDelegation: Sendable, Equatable, Codable {
    /// The delegate's Ed25519 public key (32 bytes).
    public var delegateKey: [UInt8]
    /// RFC 3339 UTC; bundles created after it do not verify.
    public var notAfter: String
    /// Ed25519 by the owner's DID key over ``signatureInput(ownerDid:)``.
    public var signature: [UInt8]

    public init(delegateKey: [UInt8], notAfter: String, signature: [UInt8]) {
        self.delegateKey = delegateKey
        self.notAfter = notAfter
        self.signature = signature
    }

    /// Signs a delegation to `delegateKey` until `notAfter` with the owner's key.
    public static func issue(by owner: SigningIdentity, to delegateKey: [UInt8], notAfter: Date) -> PublishingDelegation {
        let until = BundleTimestamp.format(notAfter)
        let input = signatureInput(ownerDid: owner.did, delegateKey: delegateKey, notAfter: until)
        return PublishingDelegation(delegateKey: delegateKey, notAfter: until, signature: owner.sign(input))
    }

    public static func signatureInput(ownerDid: DID, delegateKey: [UInt8], notAfter: String) -> [UInt8] {
        Array("vivim/delegation/v1|\(ownerDid)|\(Base64URL.encode(delegateKey))|\(notAfter)".utf8)
    }

    public func signatureInput(ownerDid: DID) -> [UInt8] {
        Self.signatureInput(ownerDid: ownerDid, delegateKey: delegateKey, notAfter: notAfter)
    }

    public var notAfterDate: Date? { BundleTimestamp.parse(notAfter) }

    /// Checks that `ownerDid` signed this delegation and that it covers `date`.
    public func verify(ownerDid: DID, at date: Date) throws(VivimError) {
        guard delegateKey.count == 32, let end = notAfterDate, !notAfter.contains("|") else {
            throw .validation("delegation is malformed", field: "delegation")
        }
        guard ownerDid.verifies(signature: signature, over: signatureInput(ownerDid: ownerDid)) else {
            throw .validation("delegation signature does not verify against ownerDid", field: "delegation.signature")
        }
        guard date <= end else {
            throw .validation("the delegation ended before the bundle was created", field: "delegation.notAfter")
        }
    }

    /// Whether `signature` over `message` was made by the delegate key.
    public func delegateVerifies(signature: [UInt8], over message: [UInt8]) -> Bool {
        guard signature.count == 64, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: delegateKey) else {
            return false
        }
        return key.isValidSignature(signature, for: message)
    }

    enum CodingKeys: String, CodingKey { case delegateKey, notAfter, signature }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        delegateKey = try container.decodeBase64URL(forKey: .delegateKey)
        notAfter = try container.decode(String.self, forKey: .notAfter)
        signature = try container.decodeBase64URL(forKey: .signature)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeBase64URL(delegateKey, forKey: .delegateKey)
        try container.encode(notAfter, forKey: .notAfter)
        try container.encodeBase64URL(signature, forKey: .signature)
    }
}

/// Who signs a bundle: the owner's own key, or a delegate key with the owner's delegation.
public struct BundleSigner: Sendable {
    public let ownerDid: DID
    let key: SigningIdentity
    public let delegation: PublishingDelegation?

    /// The owner signs with their DID key (the owner's device seals the bundle).
    public static func owner(_ identity: SigningIdentity) -> BundleSigner {
        BundleSigner(ownerDid: identity.did, key: identity, delegation: nil)
    }

    /// A delegate signs in the owner's name; `delegation` must be the owner's for `delegate`.
    public static func delegate(_ delegate: SigningIdentity, for ownerDid: DID, delegation: PublishingDelegation) throws(VivimError) -> BundleSigner {
        guard delegation.delegateKey == delegate.publicKey else {
            throw .validation("the delegation is for another key", field: "delegation.delegateKey")
        }
        try delegation.verify(ownerDid: ownerDid, at: Date.distantPast)
        return BundleSigner(ownerDid: ownerDid, key: delegate, delegation: delegation)
    }

    func sign(_ message: [UInt8]) -> [UInt8] { key.sign(message) }
}

extension SigningIdentity {
    /// The raw 32-byte Ed25519 public key.
    public var publicKey: [UInt8] { Array(privateKey.publicKey.rawRepresentation) }
}

import Crypto
import Foundation
import VivimCore

/// One recipient's copy of a bundle's content key (SPEC §7.2 `keyCapsules`).
public struct KeyCapsule: Sendable, Equatable, Codable {
    public var recipientDid: DID
    /// The capsule suite, named as in the recipient's published key.
    public var kem: EncryptionKeyAlgorithm
    /// ``EncryptionKey/keyId`` of the recipient key the capsule was made for.
    public var keyId: String
    /// The KEM ciphertext: 1120 bytes for X-Wing, 1568 for ML-KEM-1024.
    public var enc: [UInt8]
    /// The wrapped 32-byte key with its 16-byte tag.
    public var wrapped: [UInt8]

    public init(recipientDid: DID, kem: EncryptionKeyAlgorithm, keyId: String, enc: [UInt8], wrapped: [UInt8]) {
        self.recipientDid = recipientDid
        self.kem = kem
        self.keyId = keyId
        self.enc = enc
        self.wrapped = wrapped
    }

    /// Wraps `contentKey` for a recipient, bound to `contentId`.
    public static func seal(
        _ contentKey: ContentKey, contentId: String, to recipient: BundleRecipient
    ) throws -> KeyCapsule {
        let (enc, wrapped) = try KeyWrap.seal(
            contentKey.symmetricKey, to: recipient.encryptionKey, recipientDid: recipient.did,
            context: .content(contentId: contentId))
        return KeyCapsule(
            recipientDid: recipient.did, kem: recipient.encryptionKey.algorithm,
            keyId: recipient.encryptionKey.keyId, enc: enc, wrapped: wrapped)
    }

    /// Recovers the content key with the recipient's key pair.
    public func open(contentId: String, keyPair: EncryptionKeyPair) throws(VivimError) -> ContentKey {
        ContentKey(checked: try KeyWrap.open(
            enc: enc, wrapped: wrapped, suite: kem, keyPair: keyPair, recipientDid: recipientDid,
            context: .content(contentId: contentId)))
    }

    enum CodingKeys: String, CodingKey { case recipientDid, kem, keyId, enc, wrapped }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        recipientDid = try container.decodeCanonicalDID(forKey: .recipientDid)
        kem = try container.decode(EncryptionKeyAlgorithm.self, forKey: .kem)
        keyId = try container.decode(String.self, forKey: .keyId)
        enc = try container.decodeBase64URL(forKey: .enc)
        wrapped = try container.decodeBase64URL(forKey: .wrapped)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(recipientDid, forKey: .recipientDid)
        try container.encode(kem, forKey: .kem)
        try container.encode(keyId, forKey: .keyId)
        try container.encodeBase64URL(enc, forKey: .enc)
        try container.encodeBase64URL(wrapped, forKey: .wrapped)
    }
}

/// A person a bundle is sealed to: their DID and the encryption key of their public profile.
public struct BundleRecipient: Sendable, Equatable {
    public var did: DID
    public var encryptionKey: EncryptionKey

    public init(did: DID, encryptionKey: EncryptionKey) {
        self.did = did
        self.encryptionKey = encryptionKey
    }
}

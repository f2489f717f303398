import Crypto
import Foundation
import VivimCore

/// A circle's shared 256-bit key for one epoch (SPEC §7.4, beyond the seed). A share to the
/// circle wraps its content key once under this key (an ``EpochCapsule``); each member holds the
/// epoch key wrapped to their own encryption key (an ``EpochKeyCapsule``). Removing a member
/// rotates the epoch: later shares use a key the removed member never received.
public struct CircleEpochKey: Sendable {
    public let circleId: CircleID
    /// Starts at 1 and grows by one at each rotation.
    public let epoch: Int
    public let symmetricKey: SymmetricKey

    /// A fresh random key for `epoch` of `circleId`.
    public static func generate(circleId: CircleID, epoch: Int = 1) -> CircleEpochKey {
        precondition(epoch >= 1, "epochs start at 1")
        return CircleEpochKey(circleId: circleId, epoch: epoch, checked: SymmetricKey(size: .bits256))
    }

    /// Restores a stored epoch key.
    public init(circleId: CircleID, epoch: Int, symmetricKey: SymmetricKey) throws(VivimError) {
        guard epoch >= 1 else { throw .validation("epochs start at 1", field: "epoch") }
        guard symmetricKey.bitCount == 256 else { throw .validation("an epoch key is 256 bits", field: "epochKey") }
        self.init(circleId: circleId, epoch: epoch, checked: symmetricKey)
    }

    private init(circleId: CircleID, epoch: Int, checked symmetricKey: SymmetricKey) {
        self.circleId = circleId
        self.epoch = epoch
        self.symmetricKey = symmetricKey
    }

    /// The next epoch with a fresh, independent key (not derived from this one, so a removed
    /// member who kept this key learns nothing about the next).
    public func rotated() -> CircleEpochKey {
        .generate(circleId: circleId, epoch: epoch + 1)
    }

    /// Wraps this epoch key to a member with their capsule suite.
    public func seal(to member: BundleRecipient) throws -> EpochKeyCapsule {
        let (enc, wrapped) = try KeyWrap.seal(
            symmetricKey, to: member.encryptionKey, recipientDid: member.did,
            context: .epochKey(circleId: circleId, epoch: epoch))
        return EpochKeyCapsule(
            circleId: circleId, epoch: epoch, recipientDid: member.did, kem: member.encryptionKey.algorithm,
            keyId: member.encryptionKey.keyId, enc: enc, wrapped: wrapped)
    }

    /// Wraps a bundle's content key once for the whole circle: AES-256-GCM under the epoch key,
    /// a random 96-bit nonce (the epoch key wraps many content keys), associated data
    /// `vivim/epoch-wrap/v1|<circleId>|<epoch>|<contentId>`.
    public func wrap(_ contentKey: ContentKey, contentId: String) throws -> EpochCapsule {
        try wrap(contentKey, contentId: contentId, nonce: AES.GCM.Nonce())
    }

    func wrap(_ contentKey: ContentKey, contentId: String, nonce: AES.GCM.Nonce) throws -> EpochCapsule {
        let box = try contentKey.symmetricKey.withUnsafeBytes {
            try AES.GCM.seal(
                $0, using: symmetricKey, nonce: nonce,
                authenticating: BundleLabels.epochWrapAssociatedData(circleId: circleId, epoch: epoch, contentId: contentId))
        }
        return EpochCapsule(circleId: circleId, epoch: epoch, nonce: Array(nonce), wrapped: Array(box.ciphertext) + Array(box.tag))
    }

    /// Recovers a content key wrapped for this circle epoch.
    public func unwrap(_ capsule: EpochCapsule, contentId: String) throws(VivimError) -> ContentKey {
        let failure = VivimError.validation("epoch capsule does not open: wrong epoch key or tampered capsule", field: "epochCapsules")
        guard capsule.circleId == circleId, capsule.epoch == epoch else {
            throw .validation("epoch capsule is for another circle epoch", field: "epochCapsules")
        }
        guard capsule.nonce.count == ContentCipher.nonceByteCount, capsule.wrapped.count == KeyWrap.wrappedByteCount
        else { throw failure }
        do {
            let box = try AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: capsule.nonce), ciphertext: capsule.wrapped.prefix(32),
                tag: capsule.wrapped.suffix(ContentCipher.tagByteCount))
            var keyBytes = try AES.GCM.open(
                box, using: symmetricKey,
                authenticating: BundleLabels.epochWrapAssociatedData(circleId: circleId, epoch: epoch, contentId: contentId))
            defer { keyBytes.resetBytes(in: 0..<keyBytes.count) }
            return ContentKey(checked: SymmetricKey(data: keyBytes))
        } catch {
            throw failure
        }
    }
}

/// A content key wrapped once under a circle's epoch key (the bundle's `epochCapsules`).
public struct EpochCapsule: Sendable, Equatable, Codable {
    public var circleId: CircleID
    public var epoch: Int
    /// The 12-byte AES-GCM nonce.
    public var nonce: [UInt8]
    /// The wrapped 32-byte content key with its 16-byte tag.
    public var wrapped: [UInt8]

    public init(circleId: CircleID, epoch: Int, nonce: [UInt8], wrapped: [UInt8]) {
        self.circleId = circleId
        self.epoch = epoch
        self.nonce = nonce
        self.wrapped = wrapped
    }

    enum CodingKeys: String, CodingKey { case circleId, epoch, nonce, wrapped }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        circleId = try container.decode(CircleID.self, forKey: .circleId)
        epoch = try container.decode(Int.self, forKey: .epoch)
        nonce = try container.decodeBase64URL(forKey: .nonce)
        wrapped = try container.decodeBase64URL(forKey: .wrapped)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(circleId, forKey: .circleId)
        try container.encode(epoch, forKey: .epoch)
        try container.encodeBase64URL(nonce, forKey: .nonce)
        try container.encodeBase64URL(wrapped, forKey: .wrapped)
    }
}

/// A circle epoch key wrapped to one member with the capsule suites; kept by the server with
/// the circle and handed to the member, who opens it on their device.
public struct EpochKeyCapsule: Sendable, Equatable, Codable {
    public var circleId: CircleID
    public var epoch: Int
    public var recipientDid: DID
    public var kem: EncryptionKeyAlgorithm
    public var keyId: String
    public var enc: [UInt8]
    public var wrapped: [UInt8]

    public init(
        circleId: CircleID, epoch: Int, recipientDid: DID, kem: EncryptionKeyAlgorithm, keyId: String,
        enc: [UInt8], wrapped: [UInt8]
    ) {
        self.circleId = circleId
        self.epoch = epoch
        self.recipientDid = recipientDid
        self.kem = kem
        self.keyId = keyId
        self.enc = enc
        self.wrapped = wrapped
    }

    /// Recovers the epoch key with the member's key pair.
    public func open(keyPair: EncryptionKeyPair) throws(VivimError) -> CircleEpochKey {
        let key = try KeyWrap.open(
            enc: enc, wrapped: wrapped, suite: kem, keyPair: keyPair, recipientDid: recipientDid,
            context: .epochKey(circleId: circleId, epoch: epoch))
        return try CircleEpochKey(circleId: circleId, epoch: epoch, symmetricKey: key)
    }

    enum CodingKeys: String, CodingKey { case circleId, epoch, recipientDid, kem, keyId, enc, wrapped }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        circleId = try container.decode(CircleID.self, forKey: .circleId)
        epoch = try container.decode(Int.self, forKey: .epoch)
        recipientDid = try container.decodeCanonicalDID(forKey: .recipientDid)
        kem = try container.decode(EncryptionKeyAlgorithm.self, forKey: .kem)
        keyId = try container.decode(String.self, forKey: .keyId)
        enc = try container.decodeBase64URL(forKey: .enc)
        wrapped = try container.decodeBase64URL(forKey: .wrapped)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(circleId, forKey: .circleId)
        try container.encode(epoch, forKey: .epoch)
        try container.encode(recipientDid, forKey: .recipientDid)
        try container.encode(kem, forKey: .kem)
        try container.encode(keyId, forKey: .keyId)
        try container.encodeBase64URL(enc, forKey: .enc)
        try container.encodeBase64URL(wrapped, forKey: .wrapped)
    }
}

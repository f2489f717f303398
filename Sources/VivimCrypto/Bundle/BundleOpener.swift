import Crypto
import Foundation
import VivimCore

/// Verifies and decrypts bundles on the recipient's device (SPEC §7.2, §7.6). Every path
/// checks, in order: the format (version, algorithm, sizes), that `contentId` is the SHA-256 of
/// the ciphertext, the owner's Ed25519 signature against the key in `ownerDid`; then opens the
/// content key, decrypts (AES-GCM authenticates nonce, ciphertext, intent and owner), and
/// checks `contentHash` and `size` against the plaintext.
public enum BundleOpener {
    /// Checks everything that needs no key. A bundle that passes was signed by `ownerDid` and its
    /// ciphertext is the one signed.
    public static func verify(_ bundle: ContentBundle) throws(VivimError) {
        guard bundle.version == ContentBundle.currentVersion else {
            throw .validation("unsupported bundle version \(bundle.version)", field: "version")
        }
        guard bundle.algorithm == ContentCipher.algorithm else {
            throw .validation("unsupported algorithm \(bundle.algorithm)", field: "algorithm")
        }
        try BundleField.validate(intentId: bundle.intentId)
        guard BundleTimestamp.parse(bundle.createdAt) != nil else {
            throw .validation("createdAt is not an RFC 3339 UTC timestamp", field: "createdAt")
        }
        guard bundle.nonce.count == ContentCipher.nonceByteCount else {
            throw .validation("nonce must be 12 bytes", field: "nonce")
        }
        guard Hashing.constantTimeEquals(Array(bundle.contentId.utf8), Array(Hashing.sha256Hex(bundle.ciphertext).utf8))
        else {
            throw .validation("contentId is not the SHA-256 of the ciphertext", field: "contentId")
        }
        if let delegation = bundle.delegation {
            try delegation.verify(ownerDid: bundle.ownerDid, at: bundle.createdDate ?? .distantFuture)
            guard delegation.delegateVerifies(signature: bundle.signature, over: bundle.signatureInput) else {
                throw .validation("bundle signature does not verify against the delegated key", field: "signature")
            }
        } else {
            guard bundle.ownerDid.verifies(signature: bundle.signature, over: bundle.signatureInput) else {
                throw .validation("bundle signature does not verify against ownerDid", field: "signature")
            }
        }
    }

    /// Opens a bundle as a direct recipient with the key pair on their device.
    public static func open(
        _ bundle: ContentBundle, recipientDid: DID, keyPair: EncryptionKeyPair
    ) throws(VivimError) -> [UInt8] {
        try verify(bundle)
        let keyId = keyPair.publicKey.keyId
        guard let capsule = bundle.keyCapsules.first(where: { $0.recipientDid == recipientDid && $0.keyId == keyId })
        else {
            throw .forbidden("the bundle holds no key capsule for this recipient and key")
        }
        let contentKey = try capsule.open(contentId: bundle.contentId, keyPair: keyPair)
        return try decrypt(bundle, contentKey: contentKey)
    }

    /// Opens a bundle shared to a circle with the member's epoch key.
    public static func open(_ bundle: ContentBundle, epochKey: CircleEpochKey) throws(VivimError) -> [UInt8] {
        try verify(bundle)
        guard let capsule = bundle.epochCapsules.first(where: {
            $0.circleId == epochKey.circleId && $0.epoch == epochKey.epoch
        }) else {
            throw .forbidden("the bundle holds no capsule for this circle epoch")
        }
        let contentKey = try epochKey.unwrap(capsule, contentId: bundle.contentId)
        return try decrypt(bundle, contentKey: contentKey)
    }

    /// Opens a bundle with its content key: a public share's published `contentKey`, or the
    /// fragment of a zero-knowledge link (``ContentKey/init(base64URL:)``).
    public static func open(_ bundle: ContentBundle, contentKey: ContentKey) throws(VivimError) -> [UInt8] {
        try verify(bundle)
        return try decrypt(bundle, contentKey: contentKey)
    }

    /// Opens a zero-knowledge link: the bundle and the key text after `#` in its URL.
    public static func open(_ bundle: ContentBundle, linkFragment: String) throws(VivimError) -> [UInt8] {
        try open(bundle, contentKey: ContentKey(base64URL: linkFragment))
    }

    private static func decrypt(_ bundle: ContentBundle, contentKey: ContentKey) throws(VivimError) -> [UInt8] {
        let plaintext = try ContentCipher.open(
            ciphertext: bundle.ciphertext, nonce: bundle.nonce, key: contentKey, intentId: bundle.intentId,
            ownerDid: bundle.ownerDid)
        guard plaintext.count == bundle.metadata.size else {
            throw .validation("metadata.size does not match the plaintext", field: "metadata.size")
        }
        guard Hashing.sha256Hex(plaintext) == bundle.metadata.contentHash else {
            throw .validation("metadata.contentHash does not match the plaintext", field: "metadata.contentHash")
        }
        return plaintext
    }
}

import Crypto
import Foundation
import VivimCore

/// The ciphertext of a bundle's content and the id derived from it.
public struct SealedContent: Sendable, Equatable {
    /// The 12-byte AES-GCM nonce.
    public let nonce: [UInt8]
    /// AES-256-GCM ciphertext with the 16-byte tag appended.
    public let ciphertext: [UInt8]
    /// Hex SHA-256 of `ciphertext`.
    public let contentId: String
}

/// AES-256-GCM over a bundle's plaintext (SPEC §7.2, §7.4), bound by its associated data to
/// the intent and the owner: `vivim/bundle/v1|<intentId>|<ownerDid>`.
public enum ContentCipher {
    public static let algorithm = "AES-256-GCM"
    public static let nonceByteCount = 12
    public static let tagByteCount = 16

    /// Encrypts under a fresh random 96-bit nonce.
    public static func seal(
        _ plaintext: some DataProtocol, key: ContentKey, intentId: String, ownerDid: DID
    ) throws -> SealedContent {
        try seal(plaintext, key: key, nonce: AES.GCM.Nonce(), intentId: intentId, ownerDid: ownerDid)
    }

    /// Encrypts under the given nonce: only for known-answer tests and the worked example.
    /// A nonce must never be used twice with one key.
    static func seal(
        _ plaintext: some DataProtocol, key: ContentKey, nonce: AES.GCM.Nonce, intentId: String, ownerDid: DID
    ) throws -> SealedContent {
        let box = try AES.GCM.seal(
            plaintext, using: key.symmetricKey, nonce: nonce,
            authenticating: BundleLabels.contentAssociatedData(intentId: intentId, ownerDid: ownerDid))
        // `combined` is nonce ‖ ciphertext ‖ tag in one buffer: one bulk copy, not a byte-wise
        // append of two Data slices (which cost more than the encryption itself).
        guard let combined = box.combined else { throw VivimError(.internalError, "AES-GCM produced no combined box") }
        let ciphertext = combined.withUnsafeBytes { Array($0[nonceByteCount...]) }
        return SealedContent(
            nonce: Array(nonce), ciphertext: ciphertext, contentId: Hashing.sha256Hex(ciphertext))
    }

    /// Decrypts and authenticates; any change to nonce, ciphertext, tag, intent or owner fails.
    public static func open(
        ciphertext: [UInt8], nonce: [UInt8], key: ContentKey, intentId: String, ownerDid: DID
    ) throws(VivimError) -> [UInt8] {
        guard nonce.count == nonceByteCount else {
            throw .validation("nonce must be 12 bytes", field: "nonce")
        }
        guard ciphertext.count >= tagByteCount else {
            throw .validation("ciphertext is shorter than the GCM tag", field: "ciphertext")
        }
        do {
            let box = try AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: nonce),
                ciphertext: ciphertext[..<(ciphertext.count - tagByteCount)],
                tag: ciphertext[(ciphertext.count - tagByteCount)...])
            return Array(try AES.GCM.open(
                box, using: key.symmetricKey,
                authenticating: BundleLabels.contentAssociatedData(intentId: intentId, ownerDid: ownerDid)))
        } catch {
            throw .validation("content does not decrypt: wrong key or tampered bundle", field: "ciphertext")
        }
    }
}

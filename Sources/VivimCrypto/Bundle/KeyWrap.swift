import Crypto
import Foundation
import VivimCore

/// What a key capsule is bound to: the content it unlocks or the circle epoch it belongs to.
/// The two contexts use different labels, so a capsule of one kind never opens as the other.
public enum CapsuleContext: Sendable, Equatable {
    case content(contentId: String)
    case epochKey(circleId: CircleID, epoch: Int)

    func info(for suite: EncryptionKeyAlgorithm) -> [UInt8] {
        switch (self, suite) {
        case (.content(let id), .xWing): BundleLabels.xWingCapsuleInfo(contentId: id)
        case (.content(let id), .mlKem1024): BundleLabels.mlKem1024CapsuleInfo(contentId: id)
        case (.epochKey(let circle, let epoch), .xWing): BundleLabels.xWingEpochKeyInfo(circleId: circle, epoch: epoch)
        case (.epochKey(let circle, let epoch), .mlKem1024):
            BundleLabels.mlKem1024EpochKeyInfo(circleId: circle, epoch: epoch)
        }
    }
}

/// Wraps a 256-bit key to a recipient's published encryption key with the capsule suites of
/// SPEC §7.2:
///
/// - `X-Wing`: HPKE (RFC 9180) base mode, KEM X-Wing (0x647a), HKDF-SHA256, AES-256-GCM;
///   single-shot seal of the key with `aad` = the recipient's DID.
/// - `ML-KEM-1024`: `(ss, enc) = Encaps(pk)`; `kek = HKDF-SHA256(ss, salt: empty, info, 32)`;
///   AES-256-GCM under `kek` with a zero nonce (the key is single-use) and `aad` = the DID.
enum KeyWrap {
    static let wrappedByteCount = 32 + ContentCipher.tagByteCount
    static let zeroNonce = try! AES.GCM.Nonce(data: [UInt8](repeating: 0, count: 12))

    static func seal(
        _ key: SymmetricKey, to recipientKey: EncryptionKey, recipientDid: DID, context: CapsuleContext
    ) throws -> (enc: [UInt8], wrapped: [UInt8]) {
        precondition(key.bitCount == 256, "capsules carry 256-bit keys")
        let aad = BundleLabels.capsuleAssociatedData(recipientDid: recipientDid)
        let info = context.info(for: recipientKey.algorithm)
        switch recipientKey.algorithm {
        case .xWing:
            let publicKey = try XWingMLKEM768X25519.PublicKey(rawRepresentation: recipientKey.key)
            var sender = try HPKE.Sender(
                recipientKey: publicKey, ciphersuite: .XWingMLKEM768X25519_SHA256_AES_GCM_256, info: Data(info))
            let wrapped = try key.withUnsafeBytes { try sender.seal($0, authenticating: aad) }
            return (Array(sender.encapsulatedKey), Array(wrapped))
        case .mlKem1024:
            let publicKey = try MLKEM1024.PublicKey(rawRepresentation: recipientKey.key)
            let encapsulation = try publicKey.encapsulate()
            let kek = HKDF<SHA256>.deriveKey(
                inputKeyMaterial: encapsulation.sharedSecret, salt: [UInt8](), info: info, outputByteCount: 32)
            let box = try key.withUnsafeBytes {
                try AES.GCM.seal($0, using: kek, nonce: zeroNonce, authenticating: aad)
            }
            return (Array(encapsulation.encapsulated), Array(box.ciphertext) + Array(box.tag))
        }
    }

    /// Opens a capsule with the recipient's key pair. Every failure (wrong key, wrong DID,
    /// wrong context, a changed byte of `enc` or `wrapped`) is the same error.
    static func open(
        enc: [UInt8], wrapped: [UInt8], suite: EncryptionKeyAlgorithm, keyPair: EncryptionKeyPair,
        recipientDid: DID, context: CapsuleContext
    ) throws(VivimError) -> SymmetricKey {
        let failure = VivimError.validation("key capsule does not open: wrong key or tampered capsule", field: "wrapped")
        guard wrapped.count == wrappedByteCount else { throw failure }
        let aad = BundleLabels.capsuleAssociatedData(recipientDid: recipientDid)
        let info = context.info(for: suite)
        do {
            var keyBytes: Data
            switch (suite, keyPair) {
            case (.xWing, .xWing(let privateKey)):
                var recipient = try HPKE.Recipient(
                    privateKey: privateKey, ciphersuite: .XWingMLKEM768X25519_SHA256_AES_GCM_256,
                    info: Data(info), encapsulatedKey: Data(enc))
                keyBytes = try recipient.open(wrapped, authenticating: aad)
            case (.mlKem1024, .mlKem1024(let privateKey)):
                let sharedSecret = try privateKey.decapsulate(Data(enc))
                let kek = HKDF<SHA256>.deriveKey(
                    inputKeyMaterial: sharedSecret, salt: [UInt8](), info: info, outputByteCount: 32)
                let box = try AES.GCM.SealedBox(
                    nonce: zeroNonce, ciphertext: wrapped.prefix(32), tag: wrapped.suffix(ContentCipher.tagByteCount))
                keyBytes = try AES.GCM.open(box, using: kek, authenticating: aad)
            default:
                throw failure
            }
            defer { keyBytes.resetBytes(in: 0..<keyBytes.count) }
            guard keyBytes.count == 32 else { throw failure }
            return SymmetricKey(data: keyBytes)
        } catch {
            throw failure
        }
    }
}

extension EncryptionKey {
    /// A short, stable id of this public key: base64url of the first 16 bytes of
    /// SHA-256(UTF-8 suite name || 0x00 || raw public key). A capsule names the key it was
    /// made for, so a holder of several keys (or a rotated one) knows which to use.
    public var keyId: String {
        var hash = SHA256()
        hash.update(data: Array(algorithm.rawValue.utf8) + [0])
        hash.update(data: key)
        return Base64URL.encode(Array(hash.finalize()).prefix(16))
    }
}

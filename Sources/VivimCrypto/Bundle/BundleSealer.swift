import Crypto
import Foundation
import VivimCore

/// What a sealed bundle says about itself in the clear.
public struct BundleDescription: Sendable, Equatable {
    public var contentType: String
    public var title: String?
    public var tags: [String]
    public var transformations: [String]

    public init(contentType: String, title: String? = nil, tags: [String] = [], transformations: [String] = []) {
        self.contentType = contentType
        self.title = title
        self.tags = tags
        self.transformations = transformations
    }
}

/// A sealed bundle and its content key. Keep the key only to publish it (public shares, the
/// fragment of a zero-knowledge link) or to check the bundle; otherwise drop it at once.
public struct SealedBundle: Sendable {
    public let bundle: ContentBundle
    public let contentKey: ContentKey
}

/// Encrypts a plaintext for its recipients and signs the bundle with the owner's key
/// (SPEC §7.2, §7.4): a fresh content key, AES-256-GCM, one capsule per direct recipient in
/// their own suite, one epoch capsule per circle, an Ed25519 signature.
public struct BundleSealer: Sendable {
    public let signer: BundleSigner

    /// The owner's device seals and signs with the owner's DID key.
    public init(owner: SigningIdentity) {
        self.signer = .owner(owner)
    }

    /// A home server seals with a delegate key the owner authorized (``PublishingDelegation``).
    public init(signer: BundleSigner) {
        self.signer = signer
    }

    /// Seals `plaintext` (the UTF-8 JSON of the transformed content). With no recipients and no
    /// circles the bundle is capsule-less: a public share or a zero-knowledge link.
    public func seal(
        _ plaintext: [UInt8], intentId: String, recipients: [BundleRecipient], circles: [CircleEpochKey] = [],
        description: BundleDescription, createdAt: Date = Date()
    ) throws -> SealedBundle {
        try seal(
            plaintext, intentId: intentId, recipients: recipients, circles: circles, description: description,
            createdAt: createdAt, contentKey: .generate(), nonce: AES.GCM.Nonce())
    }

    /// The deterministic core; fixed keys and nonces only for known-answer tests.
    func seal(
        _ plaintext: [UInt8], intentId: String, recipients: [BundleRecipient], circles: [CircleEpochKey],
        description: BundleDescription, createdAt: Date, contentKey: ContentKey, nonce: AES.GCM.Nonce,
        epochNonce: (() -> AES.GCM.Nonce)? = nil
    ) throws -> SealedBundle {
        try BundleField.validate(intentId: intentId)
        let timestamp = BundleTimestamp.format(createdAt)
        let sealed = try ContentCipher.seal(plaintext, key: contentKey, nonce: nonce, intentId: intentId, ownerDid: signer.ownerDid)

        let capsules = try Self.capsules(for: recipients, contentKey: contentKey, contentId: sealed.contentId)
        let epochCapsules = try circles.map { circle in
            try circle.wrap(contentKey, contentId: sealed.contentId, nonce: epochNonce?() ?? AES.GCM.Nonce())
        }
        let signatureInput = BundleLabels.signatureInput(
            contentId: sealed.contentId, intentId: intentId, ownerDid: signer.ownerDid, createdAt: timestamp)
        let bundle = ContentBundle(
            contentId: sealed.contentId, intentId: intentId, ownerDid: signer.ownerDid, createdAt: timestamp,
            nonce: sealed.nonce, ciphertext: sealed.ciphertext, keyCapsules: capsules, epochCapsules: epochCapsules,
            metadata: BundleMetadata(
                contentHash: Hashing.sha256Hex(plaintext), size: plaintext.count,
                contentType: description.contentType, transformations: description.transformations),
            discoveryMetadata: DiscoveryMetadata(
                contentType: description.contentType, title: description.title, tags: description.tags,
                createdAt: timestamp, authorDid: signer.ownerDid),
            signature: signer.sign(signatureInput), delegation: signer.delegation)
        return SealedBundle(bundle: bundle, contentKey: contentKey)
    }

    /// One capsule per recipient, in recipient order. Large audiences are sealed on all cores:
    /// each capsule is an independent KEM encapsulation.
    static func capsules(
        for recipients: [BundleRecipient], contentKey: ContentKey, contentId: String
    ) throws -> [KeyCapsule] {
        guard recipients.count > 8 else {
            return try recipients.map { try KeyCapsule.seal(contentKey, contentId: contentId, to: $0) }
        }
        let results = CapsuleResults(count: recipients.count)
        DispatchQueue.concurrentPerform(iterations: recipients.count) { index in
            results.set(index, Result { try KeyCapsule.seal(contentKey, contentId: contentId, to: recipients[index]) })
        }
        return try results.values()
    }
}

/// Results written by index from concurrent iterations; each slot is written exactly once.
private final class CapsuleResults: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<KeyCapsule, any Error>?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ result: Result<KeyCapsule, any Error>) {
        lock.withLock { slots[index] = result }
    }

    func values() throws -> [KeyCapsule] {
        try lock.withLock { try slots.map { try $0!.get() } }
    }
}

/// Checks on the free-text fields that are joined with `|` into authenticated strings.
enum BundleField {
    static func validate(intentId: String) throws(VivimError) {
        guard (1...128).contains(intentId.utf8.count),
              intentId.unicodeScalars.allSatisfy({ $0 != "|" && $0.value >= 0x20 && $0.value != 0x7f })
        else {
            throw .validation("intentId must be 1–128 printable characters without '|'", field: "intentId")
        }
    }
}

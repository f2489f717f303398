import Foundation
import VivimCore
import VivimCrypto
import VivimStore

/// The per-user key this server signs bundles with, and the owner's delegation of it
/// (docs/decisions/0004). The seed is kept sealed under the server's storage key; the owner
/// signs a `PublishingDelegation` with their DID key on their own device.
public struct PublishingKeyService: Sendable {
    let store: any MasterStore
    let box: SecretBox
    static let purpose = "publishing-key"

    public init(store: any MasterStore, box: SecretBox) {
        self.store = store
        self.box = box
    }

    /// The user's publishing key, created on first use.
    public func key(for did: DID, now: Date) async throws -> PublishingKeyRecord {
        if let record = try await store.publishingKey(of: did) { return record }
        let identity = SigningIdentity()
        let record = PublishingKeyRecord(did: did, sealedSeed: try box.seal(identity.seed, purpose: Self.purpose + "|" + did.description),
                                         publicKey: identity.publicKey, delegationJSON: nil, createdAt: now)
        return try await store.storePublishingKey(record)
    }

    /// Stores the owner's delegation after checking it names this key and is signed by the owner.
    public func acceptDelegation(_ delegation: PublishingDelegation, for did: DID, now: Date) async throws {
        let record = try await key(for: did, now: now)
        guard delegation.delegateKey == record.publicKey else {
            throw VivimError.validation("the delegation must name this server's publishing key for you", field: "delegateKey")
        }
        try delegation.verify(ownerDid: did, at: now)
        let json = String(decoding: try JSONEncoder().encode(delegation), as: UTF8.self)
        try await store.setDelegation(of: did, json: json)
    }

    public func delegation(of record: PublishingKeyRecord) -> PublishingDelegation? {
        record.delegationJSON.flatMap { try? JSONDecoder().decode(PublishingDelegation.self, from: Data($0.utf8)) }
    }

    /// The signer for `did`'s bundles at `now`; `policyViolation` without a valid delegation.
    public func signer(for did: DID, now: Date) async throws -> BundleSigner {
        let record = try await key(for: did, now: now)
        guard let delegation = delegation(of: record) else {
            throw VivimError(.policyViolation, "publishing needs your delegation of this server's publishing key: run `vivim login` or PUT /api/v1/users/me/publishing-key",
                             details: ["reason": "NO_PUBLISHING_DELEGATION"])
        }
        guard let end = delegation.notAfterDate, now <= end else {
            throw VivimError(.policyViolation, "your publishing delegation has ended: renew it with `vivim login`",
                             details: ["reason": "PUBLISHING_DELEGATION_EXPIRED"])
        }
        let seed = try box.open(record.sealedSeed, purpose: Self.purpose + "|" + did.description)
        return try BundleSigner.delegate(try SigningIdentity(seed: seed), for: did, delegation: delegation)
    }
}

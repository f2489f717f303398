import Crypto
import Foundation
import VivimCore
import VivimCrypto
import VivimStore

/// Circle epoch keys (SPEC §7.4): one key per circle and epoch, kept sealed under the server's
/// storage key, each member holding it wrapped to their own encryption key. A share to a circle
/// wraps its content key once; removing a member rotates the epoch so later shares are
/// unreadable to them; a new member receives every epoch (the resolver gives current members
/// every share of the circle).
public struct CircleKeyService: Sendable {
    let store: any MasterStore
    let box: SecretBox

    public init(store: any MasterStore, box: SecretBox) {
        self.store = store
        self.box = box
    }

    static func purpose(_ circle: CircleID, _ epoch: Int) -> String { "circle-epoch-key|\(circle)|\(epoch)" }

    /// The circle's current epoch key, creating epoch 1 for its members on first use.
    public func currentKey(of circle: CircleID, now: Date) async throws -> CircleEpochKey {
        if let stored = try await store.currentEpochKey(of: circle) { return try open(stored) }
        let key = CircleEpochKey.generate(circleId: circle, epoch: 1)
        do {
            try await install(key, now: now)
            return key
        } catch let error as VivimError where error.code == .conflict {
            // Another request created epoch 1 first; use theirs.
            guard let stored = try await store.currentEpochKey(of: circle) else { throw error }
            return try open(stored)
        }
    }

    /// A new epoch for the remaining members (after a removal).
    @discardableResult
    public func rotate(_ circle: CircleID, now: Date) async throws -> CircleEpochKey? {
        guard let stored = try await store.currentEpochKey(of: circle) else { return nil }
        let next = try open(stored).rotated()
        try await install(next, now: now)
        return next
    }

    /// Wraps every epoch of the circle to a new member.
    public func memberAdded(_ did: DID, to circle: CircleID) async throws {
        guard let current = try await store.currentEpochKey(of: circle), let recipient = try await recipient(did) else { return }
        var capsules: [StoredEpochCapsule] = []
        for epoch in 1...current.epoch {
            guard let stored = try await store.epochKey(of: circle, epoch: epoch) else { continue }
            capsules.append(try capsule(try open(stored), for: recipient))
        }
        try await store.upsertEpochCapsules(capsules)
    }

    /// The epoch-key capsules `did` holds for the circle (only members get any).
    public func capsules(of did: DID, circle: CircleID) async throws -> [EpochKeyCapsule] {
        try await store.epochCapsules(of: did, circleID: circle).map {
            try JSONDecoder().decode(EpochKeyCapsule.self, from: Data($0.capsuleJSON.utf8))
        }
    }

    private func install(_ key: CircleEpochKey, now: Date) async throws {
        var capsules: [StoredEpochCapsule] = []
        var page = 1
        while true {
            let members = try await store.members(of: key.circleId, page: PageRequest(page: page, pageSize: PageRequest.maximumPageSize))
            let recipients = try await withThrowingTaskGroup(of: BundleRecipient?.self) { group in
                for member in members.items { group.addTask { try await recipient(member.did) } }
                return try await group.reduce(into: [BundleRecipient]()) { if let r = $1 { $0.append(r) } }
            }
            capsules += try sealAll(key, to: recipients)
            guard members.hasMore else { break }
            page += 1
        }
        let sealed = try key.symmetricKey.withUnsafeBytes { try box.seal(Array($0), purpose: Self.purpose(key.circleId, key.epoch)) }
        try await store.insertEpochKey(StoredEpochKey(circleID: key.circleId, epoch: key.epoch, sealedKey: sealed, createdAt: now),
                                       capsules: capsules)
    }

    /// Member capsules are independent KEM encapsulations: sealed on all cores.
    private func sealAll(_ key: CircleEpochKey, to recipients: [BundleRecipient]) throws -> [StoredEpochCapsule] {
        let results = ResultSlots<StoredEpochCapsule>(count: recipients.count)
        DispatchQueue.concurrentPerform(iterations: recipients.count) { index in
            results.set(index, Result { try capsule(key, for: recipients[index]) })
        }
        return try results.values()
    }

    private func capsule(_ key: CircleEpochKey, for recipient: BundleRecipient) throws -> StoredEpochCapsule {
        let capsule = try key.seal(to: recipient)
        return StoredEpochCapsule(circleID: key.circleId, epoch: key.epoch, memberDid: recipient.did,
                                  capsuleJSON: String(decoding: try JSONEncoder().encode(capsule), as: UTF8.self))
    }

    private func recipient(_ did: DID) async throws -> BundleRecipient? {
        try await store.user(did).map { BundleRecipient(did: did, encryptionKey: $0.encryptionKey) }
    }

    private func open(_ stored: StoredEpochKey) throws -> CircleEpochKey {
        let bytes = try box.open(stored.sealedKey, purpose: Self.purpose(stored.circleID, stored.epoch))
        return try CircleEpochKey(circleId: stored.circleID, epoch: stored.epoch, symmetricKey: SymmetricKey(data: bytes))
    }
}

/// Results written by index from concurrent iterations; each slot is written once.
final class ResultSlots<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<Value, any Error>?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ result: Result<Value, any Error>) { lock.withLock { slots[index] = result } }

    func values() throws -> [Value] { try lock.withLock { try slots.map { try $0!.get() } } }
}

/// The storage policy of one node (SPEC §8.5) as a Sans-IO state machine: what
/// this node keeps, where replicas of its own content live, when to repair,
/// evict, expire and delete. It holds no bytes and does no I/O: the shell
/// (``StorageService``) executes the returned actions against the disk, the
/// DHT and the replication protocol, and reports the outcomes back.
public struct StorageManager: Sendable {
    public struct Configuration: Sendable {
        public var defaultReplicationFactor = 3
        /// Bytes of non-own, unpinned content kept in the hot tier before LRU eviction.
        public var hotCapacity = 1 << 30
        /// Bytes of popularity-driven cache (warm tier) before LRU eviction.
        public var warmCapacity = 1 << 30
        /// Bytes of replicas held for other nodes (cold tier); further requests are refused.
        public var coldCapacity = 4 << 30
        /// Unpinned hot content not accessed for this long is dropped.
        public var hotRetention: Duration = .seconds(7 * 24 * 3600)
        /// How often each replica of own content is checked.
        public var repairInterval: Duration = .seconds(60)
        public init() {}
    }

    /// Where the bytes came from, which decides who may delete them.
    public enum Origin: Hashable, Sendable {
        /// Published by this node.
        case own
        /// Replica held on behalf of `owner` (only it may ask for deletion).
        case replica(owner: PeerID)
        /// Fetched for local use (hot tier: LRU, dropped after the retention period).
        case fetched
        /// Kept because it is popular (warm tier: LRU cache for peers).
        case cached
    }

    public enum Tier: Sendable, Equatable { case hot, warm, cold }

    public struct Entry: Sendable, Equatable {
        public var size: Int
        public var origin: Origin
        public var tier: Tier
        public var pinned = false
        public var replicationFactor: Int
        public var lastAccess: NetworkInstant
        public var expiresAt: NetworkInstant?
        /// Peers confirmed to hold a replica (own content only).
        public var replicas: Set<PeerID> = []
        /// Peers asked to replicate and not yet answered.
        public var pending: Set<PeerID> = []
        /// Peers that refused or failed to replicate it (not asked again).
        public var refused: Set<PeerID> = []
        public var lastRepairCheck: NetworkInstant
    }

    public enum Action: Sendable, Hashable {
        /// Provide the content in the DHT.
        case announce(ContentHash)
        /// Find candidate replica holders (e.g. the DHT's closest peers to the key), then call ``targetsFound``.
        case findTargets(ContentHash, count: Int)
        /// Ask `peer` to fetch and keep a replica; report with ``replicationSucceeded`` / ``replicationFailed``.
        case replicate(ContentHash, to: PeerID, expiresAt: NetworkInstant?)
        /// Ask `peer` whether it still holds the content; report with ``replicaLost`` if not.
        case verifyReplica(ContentHash, at: PeerID)
        /// Remove the local bytes.
        case deleteLocal(ContentHash)
        /// Ask a replica holder to delete (best effort).
        case requestDeletion(ContentHash, at: PeerID)
    }

    public enum DeletionReason: Sendable, Equatable { case revoked, expired, evicted, ownerRequest, retention }

    /// A record of every deletion this node performed or requested (SPEC §8.5: "recorded").
    public struct Deletion: Sendable, Equatable {
        public let hash: ContentHash
        public let at: NetworkInstant
        public let reason: DeletionReason
        public let notified: [PeerID]
    }

    public let localPeer: PeerID
    public let configuration: Configuration
    public private(set) var entries: [ContentHash: Entry] = [:]
    public private(set) var deletions: [Deletion] = []
    static let maxDeletionLog = 10_000

    public init(localPeer: PeerID, configuration: Configuration = .init()) {
        self.localPeer = localPeer
        self.configuration = configuration
    }

    public func bytes(in tier: Tier) -> Int { entries.values.filter { $0.tier == tier }.reduce(0) { $0 + $1.size } }

    // MARK: local events

    /// The shell stored bytes locally (after verifying them against `hash`).
    public mutating func stored(_ hash: ContentHash, size: Int, origin: Origin, replicationFactor: Int? = nil,
                                expiresAt: NetworkInstant? = nil, now: NetworkInstant) -> [Action] {
        let tier: Tier
        switch origin {
        case .own: tier = .hot
        case .replica: tier = .cold
        case .fetched: tier = .hot
        case .cached: tier = .warm
        }
        let factor = origin == .own ? (replicationFactor ?? configuration.defaultReplicationFactor) : 0
        entries[hash] = Entry(size: size, origin: origin, tier: tier, replicationFactor: factor,
                              lastAccess: now, expiresAt: expiresAt, lastRepairCheck: now)
        var actions: [Action] = [.announce(hash)]
        if factor > 0 { actions.append(.findTargets(hash, count: factor + 2)) }
        return actions + evict(now: now)
    }

    public mutating func accessed(_ hash: ContentHash, now: NetworkInstant) {
        entries[hash]?.lastAccess = now
    }

    /// Whether a replica of `size` bytes fits in the cold tier.
    public func canAcceptReplica(size: Int) -> Bool { bytes(in: .cold) + size <= configuration.coldCapacity }

    /// Pinned content is never evicted; pinning cached content moves it to the hot tier.
    public mutating func pin(_ hash: ContentHash) {
        entries[hash]?.pinned = true
        if entries[hash]?.tier == .warm { entries[hash]?.tier = .hot }
    }

    public mutating func unpin(_ hash: ContentHash, now: NetworkInstant) -> [Action] {
        guard let e = entries[hash] else { return [] }
        entries[hash]!.pinned = false
        if e.origin == .cached { entries[hash]!.tier = .warm }
        return evict(now: now)
    }

    /// Revocation by the owner: delete here and ask every replica holder to delete.
    public mutating func revoke(_ hash: ContentHash, now: NetworkInstant) -> [Action] {
        delete(hash, reason: .revoked, now: now)
    }

    // MARK: replication

    public mutating func targetsFound(_ hash: ContentHash, candidates: [PeerID], now: NetworkInstant) -> [Action] {
        guard var e = entries[hash], e.origin == .own else { return [] }
        let needed = e.replicationFactor - e.replicas.count - e.pending.count
        guard needed > 0 else { return [] }
        var actions: [Action] = []
        for peer in candidates where peer != localPeer && !e.replicas.contains(peer) && !e.pending.contains(peer) && !e.refused.contains(peer) {
            guard actions.count < needed else { break }
            e.pending.insert(peer)
            actions.append(.replicate(hash, to: peer, expiresAt: e.expiresAt))
        }
        entries[hash] = e
        return actions
    }

    public mutating func replicationSucceeded(_ hash: ContentHash, at peer: PeerID) {
        guard entries[hash] != nil else { return }
        entries[hash]!.pending.remove(peer)
        entries[hash]!.replicas.insert(peer)
    }

    public mutating func replicationFailed(_ hash: ContentHash, at peer: PeerID, now: NetworkInstant) -> [Action] {
        guard var e = entries[hash] else { return [] }
        e.pending.remove(peer)
        e.refused.insert(peer)
        entries[hash] = e
        return repairIfNeeded(hash)
    }

    /// A replica holder no longer answers or no longer has the content.
    public mutating func replicaLost(_ hash: ContentHash, at peer: PeerID, now: NetworkInstant) -> [Action] {
        guard entries[hash] != nil else { return [] }
        entries[hash]!.replicas.remove(peer)
        entries[hash]!.refused.insert(peer)
        return repairIfNeeded(hash)
    }

    private func repairIfNeeded(_ hash: ContentHash) -> [Action] {
        guard let e = entries[hash], e.origin == .own, e.replicas.count + e.pending.count < e.replicationFactor else { return [] }
        return [.findTargets(hash, count: e.replicationFactor + e.refused.count + 2)]
    }

    /// Another node asks us to delete content we hold; only its owner may.
    public mutating func deletionRequested(_ hash: ContentHash, by peer: PeerID, now: NetworkInstant) -> [Action] {
        guard let e = entries[hash], e.origin == .replica(owner: peer) else { return [] }
        return delete(hash, reason: .ownerRequest, now: now)
    }

    private mutating func delete(_ hash: ContentHash, reason: DeletionReason, now: NetworkInstant) -> [Action] {
        guard let e = entries.removeValue(forKey: hash) else { return [] }
        var actions: [Action] = [.deleteLocal(hash)]
        let notify = e.origin == .own ? (e.replicas.union(e.pending)).sorted() : []
        for p in notify { actions.append(.requestDeletion(hash, at: p)) }
        deletions.append(Deletion(hash: hash, at: now, reason: reason, notified: notify))
        if deletions.count > Self.maxDeletionLog { deletions.removeFirst(deletions.count - Self.maxDeletionLog) }
        return actions
    }

    // MARK: time

    /// Expiry, retention, eviction, and periodic replica checks.
    public mutating func tick(now: NetworkInstant) -> [Action] {
        var actions: [Action] = []
        for hash in entries.keys.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            guard let e = entries[hash] else { continue }
            if let expiry = e.expiresAt, expiry <= now {
                actions += delete(hash, reason: .expired, now: now)
                continue
            }
            if e.tier == .hot, e.origin != .own, !e.pinned, now - e.lastAccess >= configuration.hotRetention {
                actions += delete(hash, reason: .retention, now: now)
                continue
            }
            if e.origin == .own, now - e.lastRepairCheck >= configuration.repairInterval {
                entries[hash]!.lastRepairCheck = now
                actions += e.replicas.sorted().map { .verifyReplica(hash, at: $0) }
                actions += repairIfNeeded(hash)
            }
        }
        return actions + evict(now: now)
    }

    /// LRU eviction of unpinned, non-own content over the tier capacities.
    private mutating func evict(now: NetworkInstant) -> [Action] {
        var actions: [Action] = []
        for (tier, capacity) in [(Tier.hot, configuration.hotCapacity), (.warm, configuration.warmCapacity)] {
            var used = bytes(in: tier)
            guard used > capacity else { continue }
            let victims = entries.filter { $0.value.tier == tier && $0.value.origin != .own && !$0.value.pinned }
                .sorted { $0.value.lastAccess < $1.value.lastAccess }
            for (hash, e) in victims where used > capacity {
                used -= e.size
                actions += delete(hash, reason: .evicted, now: now)
            }
        }
        return actions
    }
}

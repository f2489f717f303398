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
        /// Deletion requests per replica holder before giving up (each must be acknowledged).
        public var maxDeletionAttempts = 8
        /// Delay before the first retry of an unacknowledged deletion request; doubles per attempt.
        public var deletionRetryDelay: Duration = .seconds(1)
        /// How long a revoked id (or an id its owner asked us to delete) is refused.
        public var tombstoneRetention: Duration = .seconds(30 * 24 * 3600)
        /// Tombstones of other owners, in total (per node). At the cap the oldest of them is
        /// forgotten; this node's own tombstones (revocations it still retries) never are.
        public var maxTombstones = 100_000
        /// Tombstones one other owner can cause here (per owner). Past it, that owner's new
        /// tombstones are not recorded (its deletions still happen): a flood costs only the flooder.
        public var maxTombstonesPerOwner = 10_000
        /// The longest a replica is kept for its owner: a REPLICATE's `expires_in` is clamped to it
        /// before any arithmetic (security review finding 1).
        public var maxReplicaLifetime: Duration = .seconds(10 * 365 * 24 * 3600)
        /// Bytes of replicas one owner may have here, held and being fetched (per owner, a share
        /// of ``coldCapacity``), so no single peer can fill the cold tier.
        public var maxReplicaBytesPerOwner = 512 << 20
        /// Replicas one owner may have here (per owner).
        public var maxReplicasPerOwner = 10_000
        /// Replicas held for others, all owners together (per node; bounds the index as well as the bytes).
        public var maxReplicas = 100_000
        /// Replica fetches running at once for one owner, and in total; further REPLICATE
        /// requests are refused (busy) until one finishes.
        public var maxIncomingReplicasPerOwner = 4
        public var maxIncomingReplicas = 32
        /// A replica fetch not reported within this time is forgotten (late bytes are dropped).
        public var replicaFetchTimeout: Duration = .seconds(300)
        /// A copy fetched under a known owner is checked this often for the owner's signed
        /// revocation (its DHT record), in case the pubsub notice was missed.
        public var revocationCheckInterval: Duration = .seconds(3600)
        /// At most this many such checks start per tick (oldest first).
        public var maxRevocationChecksPerTick = 8
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

        /// What the signed DHT record of own content says, kept so it can be signed again
        /// after a restart (and turned into its revocation).
        public struct RecordInfo: Sendable, Equatable {
            public var contentType: String
            /// Unix seconds.
            public var createdAt: UInt64
            /// Topics the content was announced on (its revocation is announced there too).
            public var topics: [String]
            public init(contentType: String, createdAt: UInt64, topics: [String] = []) {
                self.contentType = contentType
                self.createdAt = createdAt
                self.topics = topics
            }
        }

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
        /// Peers that refused, failed to replicate it, or were found without it (not asked
        /// again; still asked to delete on revocation, as they may hold the bytes after all).
        public var refused: Set<PeerID> = []
        public var lastRepairCheck: NetworkInstant
        /// The content id it was published or fetched under, when known.
        public var contentID: String? = nil
        /// Fetched or cached copies: the owner they were fetched under — whose signed
        /// revocation deletes them.
        public var owner: PeerID? = nil
        /// Own content: the fields of its signed DHT record.
        public var record: RecordInfo? = nil
        /// When the owner's revocation was last looked for (nil: not yet).
        public var lastRevocationCheck: NetworkInstant? = nil

        var isReplica: Bool { if case .replica = origin { true } else { false } }
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
        /// Look up the DHT record of `contentID` and report a revocation signed by `owner` with
        /// ``revocationSeen(_:by:now:)``.
        case checkRevocation(ContentHash, contentID: String, owner: PeerID)
        /// Remove the local bytes.
        case deleteLocal(ContentHash)
        /// Ask a replica holder to delete; report with ``deletionAcknowledged`` / ``deletionFailed``.
        case requestDeletion(ContentHash, at: PeerID)
    }

    /// What to do with a request to hold a replica.
    public enum ReplicaDecision: Sendable, Equatable {
        case refuse(Refusal)
        /// Already held here on this owner's behalf (or a copy fetched under this owner, which now
        /// becomes its replica): answer yes without fetching.
        case alreadyHeld
        /// Fetch at most the declared size from the owner, then report ``replicaFetched(_:from:size:now:)``
        /// or ``replicaFetchFailed(_:from:)``.
        case fetch
    }

    /// Why a REPLICATE is refused.
    public enum Refusal: Sendable, Equatable {
        /// No active, owner-signed record naming this bundle, its size and the requesting peer as owner.
        case unauthorized
        /// This owner deleted it here, or its content was revoked (tombstone).
        case tombstoned
        /// Held here for someone else (own content, another owner's replica, a copy fetched under
        /// another or an unknown owner): the owner of an entry never changes.
        case heldForAnother
        /// Over the owner's quota, the replica count or the cold tier's capacity.
        case quota
        /// Too many replica fetches running (this owner's or in total), or this one already is.
        case busy
    }

    /// A replica being fetched: the room it holds in the owner's quota until it is reported.
    public struct IncomingReplica: Sendable, Equatable {
        public var size: Int
        /// The requested expiry, clamped to ``Configuration/maxReplicaLifetime``.
        public var expiresAt: NetworkInstant?
        public var contentID: String?
        public var since: NetworkInstant
    }

    /// A deleted id that must not come back: own content revoked or expired here, or a
    /// replica whose owner asked for its deletion. Later REPLICATE requests for it from
    /// that owner are refused, and a replica that arrives while the deletion was in
    /// flight is dropped. For own content it also tracks which holders have not yet
    /// acknowledged the deletion (requests are retried with exponential backoff).
    public struct Tombstone: Sendable, Equatable {
        public struct Retry: Sendable, Equatable {
            public var attempts: Int
            /// When to ask again; nil while a request is in flight.
            public var next: NetworkInstant?
        }
        public let reason: DeletionReason
        public let at: NetworkInstant
        public var unacknowledged: [PeerID: Retry] = [:]
        /// Holders that gave up acknowledging after ``Configuration/maxDeletionAttempts``.
        public var abandoned: Set<PeerID> = []
    }

    public struct TombstoneKey: Hashable, Sendable {
        public let hash: ContentHash
        /// The owner whose content it was (this node for own content).
        public let owner: PeerID
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
    public private(set) var tombstones: [TombstoneKey: Tombstone] = [:]
    /// Replicas being fetched, per (hash, owner).
    public private(set) var incoming: [TombstoneKey: IncomingReplica] = [:]
    /// Revocation and expiry tombstones per hash (any owner), so ``isTombstoned(_:)`` is one lookup.
    private var buried: [ContentHash: Int] = [:]
    /// Tombstones of other owners: how many each owner has, and their insertion order (with a
    /// sequence number, so an entry left behind by a forgotten tombstone is skipped), so that
    /// evicting the oldest is O(1) amortized instead of a scan.
    private var foreignTombstones: [PeerID: Int] = [:]
    private var foreignCount = 0
    private var foreignOrder: [(key: TombstoneKey, seq: UInt64)] = []
    private var foreignHead = 0
    private var foreignSeq: [TombstoneKey: UInt64] = [:]
    private var nextSeq: UInt64 = 0
    /// Bytes and count of the replicas held for each owner, and in total (kept as entries change).
    private var replicaUsage: [PeerID: (bytes: Int, count: Int)] = [:]
    private var replicaBytes = 0
    private var replicaCount = 0
    static let maxDeletionLog = 10_000

    public init(localPeer: PeerID, configuration: Configuration = .init()) {
        self.localPeer = localPeer
        self.configuration = configuration
    }

    public func bytes(in tier: Tier) -> Int { entries.values.filter { $0.tier == tier }.reduce(0) { $0 + $1.size } }

    /// Bytes and count of the replicas held for `owner` (not counting those being fetched).
    public func replicaUsage(of owner: PeerID) -> (bytes: Int, count: Int) { replicaUsage[owner] ?? (0, 0) }

    /// Every change of an entry goes through here, so the replica accounting stays exact.
    private mutating func put(_ hash: ContentHash, _ entry: Entry?) {
        if let old = entries[hash], case .replica(let o) = old.origin { account(o, bytes: -old.size, count: -1) }
        entries[hash] = entry
        if let entry, case .replica(let o) = entry.origin { account(o, bytes: entry.size, count: 1) }
    }

    private mutating func account(_ owner: PeerID, bytes: Int, count: Int) {
        let u = replicaUsage[owner] ?? (0, 0)
        let next = (bytes: u.bytes + bytes, count: u.count + count)
        replicaUsage[owner] = next.count <= 0 ? nil : next
        replicaBytes += bytes
        replicaCount += count
    }

    // MARK: local events

    /// The shell stored bytes locally (after verifying them against `hash`).
    /// `contentID` and `owner` name what a fetched copy was fetched as (so the owner's signed
    /// revocation can reach it); `record` describes own content's DHT record.
    public mutating func stored(_ hash: ContentHash, size: Int, origin: Origin, replicationFactor: Int? = nil,
                                expiresAt: NetworkInstant? = nil, contentID: String? = nil, owner: PeerID? = nil,
                                record: RecordInfo? = nil, now: NetworkInstant) -> [Action] {
        // The owner deleted it while the replica was being fetched: drop the bytes.
        if case .replica(let owner) = origin, tombstones[TombstoneKey(hash: hash, owner: owner)] != nil {
            return entries[hash] == nil ? [.deleteLocal(hash)] : []
        }
        // A copy of revoked content (fetched while the revocation was on its way): drop it.
        if origin == .fetched || origin == .cached, isTombstoned(hash) {
            return entries[hash] == nil ? [.deleteLocal(hash)] : []
        }
        // A local fetch of bytes held as own content or as someone's replica leaves that entry
        // (and its owner) as it is.
        if origin == .fetched || origin == .cached, let e = entries[hash], e.origin == .own || e.isReplica {
            accessed(hash, now: now)
            return []
        }
        let tier: Tier
        switch origin {
        case .own: tier = .hot
        case .replica: tier = .cold
        case .fetched: tier = .hot
        case .cached: tier = .warm
        }
        let factor = origin == .own ? (replicationFactor ?? configuration.defaultReplicationFactor) : 0
        let previous = entries[hash]
        put(hash, Entry(size: size, origin: origin, tier: tier, replicationFactor: factor,
                        lastAccess: now, expiresAt: expiresAt, lastRepairCheck: now,
                        contentID: contentID ?? previous?.contentID, owner: owner ?? previous?.owner,
                        record: record, lastRevocationCheck: now))
        var actions: [Action] = [.announce(hash)]
        if factor > 0 { actions.append(.findTargets(hash, count: factor + 2)) }
        return actions + evict(now: now)
    }

    public mutating func accessed(_ hash: ContentHash, now: NetworkInstant) {
        entries[hash]?.lastAccess = now
    }

    /// Whether a replica of `size` bytes for `owner` fits: the cold tier's capacity, the
    /// owner's quota (bytes and count) and the node's replica count, counting replicas held and
    /// being fetched. O(1) in the entries (the fetches in flight are bounded).
    public func canAcceptReplica(size: Int, for owner: PeerID) -> Bool {
        let mine = incoming.filter { $0.key.owner == owner }.values
        let pendingBytes = incoming.values.reduce(0) { $0 + $1.size }, myPendingBytes = mine.reduce(0) { $0 + $1.size }
        let usage = replicaUsage(of: owner)
        return size >= 0
            && size <= configuration.coldCapacity - replicaBytes - pendingBytes
            && size <= configuration.maxReplicaBytesPerOwner - usage.bytes - myPendingBytes
            && usage.count + mine.count < configuration.maxReplicasPerOwner
            && replicaCount + incoming.count < configuration.maxReplicas
    }

    /// Whether this node revoked (or let expire) its own content `hash`; it is not published again.
    public func isRevoked(_ hash: ContentHash) -> Bool { tombstones[TombstoneKey(hash: hash, owner: localPeer)] != nil }

    /// Whether `hash` was revoked (or expired) here by its owner — this node for own content, or
    /// the owner of a copy through its signed revocation: it is neither served, fetched nor kept.
    /// A deletion an owner asked for binds only that owner's replica (security review finding 6a).
    public func isTombstoned(_ hash: ContentHash) -> Bool { buried[hash] != nil }

    /// A revocation of `hash` signed by `owner` was seen (a pubsub notice or the DHT record;
    /// the shell verified the signature). A copy fetched, cached or replicated under that
    /// owner is deleted and tombstoned; anything else (own content, another owner's copy,
    /// a copy whose owner is unknown) stays.
    public mutating func revocationSeen(_ hash: ContentHash, by owner: PeerID, now: NetworkInstant) -> [Action] {
        guard owner != localPeer, let e = entries[hash] else { return [] }
        let holderOwner: PeerID? = switch e.origin {
        case .own: nil
        case .replica(let o): o
        case .fetched, .cached: e.owner
        }
        guard holderOwner == owner else { return [] }
        bury(TombstoneKey(hash: hash, owner: owner), Tombstone(reason: .revoked, at: now), now: now)
        return delete(hash, reason: .revoked, now: now)
    }

    /// `owner` asks this node to keep a replica (a REPLICATE on `/vivim/replicate/1.0.0`).
    /// Accepted only with an active record of the bundle and its size that names `owner` as
    /// its publisher and is signed by it (issue 11: a peer speaks only for itself), never for
    /// a tombstoned hash, never over the owner's quota, and never by changing the owner of an
    /// entry held here (security review finding 6b). On ``ReplicaDecision/fetch`` the room is
    /// reserved and the expiry, clamped to ``Configuration/maxReplicaLifetime``, kept until
    /// the fetch is reported.
    public mutating func replicaRequested(_ request: ReplicationProtocol.Request, from owner: PeerID,
                                          now: NetworkInstant, unixNow: UInt64) -> ReplicaDecision {
        let hash = request.hash, key = TombstoneKey(hash: hash, owner: owner)
        guard owner != localPeer, let record = request.record,
              Self.authorizes(record, hash: hash, size: request.size, owner: owner, unixNow: unixNow) else {
            return .refuse(.unauthorized)
        }
        guard tombstones[key] == nil, !isTombstoned(hash) else { return .refuse(.tombstoned) }
        // A bundle published without a content id is named by its hash (its base58 form).
        let contentID = record.contentID == hash.description ? nil : record.contentID
        if let e = entries[hash] {
            switch e.origin {
            case .replica(let holder) where holder == owner:
                return .alreadyHeld
            case .fetched where e.owner == owner, .cached where e.owner == owner:
                // A copy fetched under this very owner becomes its replica (same owner, so its
                // revocation still reaches it), if its quota allows.
                guard canAcceptReplica(size: e.size, for: owner) else { return .refuse(.quota) }
                var replica = e
                replica.origin = .replica(owner: owner)
                replica.contentID = e.contentID ?? contentID
                if !e.pinned { replica.tier = .cold }
                put(hash, replica)
                return .alreadyHeld
            default:
                return .refuse(.heldForAnother)
            }
        }
        guard incoming[key] == nil, incoming.count < configuration.maxIncomingReplicas,
              incoming.keys.count(where: { $0.owner == owner }) < configuration.maxIncomingReplicasPerOwner else {
            return .refuse(.busy)
        }
        guard request.size <= UInt64(Int.max), canAcceptReplica(size: Int(request.size), for: owner) else { return .refuse(.quota) }
        let expiresAt = request.expiresIn.map { now + .seconds(untrusted: $0, atMost: configuration.maxReplicaLifetime) }
        incoming[key] = IncomingReplica(size: Int(request.size), expiresAt: expiresAt, contentID: contentID, since: now)
        return .fetch
    }

    /// Whether `record` lets `owner` place a replica of `hash` (`size` bytes): active, not
    /// expired at `unixNow`, of that bundle and size, naming `owner` as its publisher, and
    /// signed by `owner` (its provider entry verifies against the key in its peer id).
    public static func authorizes(_ record: ContentRecord, hash: ContentHash, size: UInt64, owner: PeerID, unixNow: UInt64) -> Bool {
        guard record.status == .active, record.bundleHash == hash, record.metadata.size == size,
              record.publisher == owner, record.metadata.expiresAt.map({ $0 > unixNow }) ?? true else { return false }
        return record.providers.contains { $0.peer == owner && record.verifies($0) }
    }

    /// The shell fetched the replica `owner` asked for (verified against its hash, at most the
    /// declared size) and wrote it. It is kept as `owner`'s replica only if it is still wanted
    /// (not deleted by the owner meanwhile, not timed out), has exactly the declared size, and
    /// no entry of someone else holds the hash; otherwise the bytes are dropped.
    public mutating func replicaFetched(_ hash: ContentHash, from owner: PeerID, size: Int, now: NetworkInstant) -> [Action] {
        let drop: [Action] = entries[hash] == nil ? [.deleteLocal(hash)] : []
        guard let wanted = incoming.removeValue(forKey: TombstoneKey(hash: hash, owner: owner)), wanted.size == size else { return drop }
        if let e = entries[hash] {
            guard e.origin == .replica(owner: owner) || ((e.origin == .fetched || e.origin == .cached) && e.owner == owner) else { return [] }
        }
        return stored(hash, size: size, origin: .replica(owner: owner), expiresAt: wanted.expiresAt, contentID: wanted.contentID, now: now)
    }

    /// The replica fetch failed: its reservation is released.
    public mutating func replicaFetchFailed(_ hash: ContentHash, from owner: PeerID) {
        incoming[TombstoneKey(hash: hash, owner: owner)] = nil
    }

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

    /// `peer` confirmed it holds a replica. If the content was revoked meanwhile, it is asked to delete it.
    @discardableResult
    public mutating func replicationSucceeded(_ hash: ContentHash, at peer: PeerID, now: NetworkInstant) -> [Action] {
        guard entries[hash] != nil else { return lateReplica(hash, at: peer) }
        entries[hash]!.pending.remove(peer)
        entries[hash]!.replicas.insert(peer)
        return []
    }

    /// `peer` failed or refused to replicate. A timed-out request may still have stored the
    /// bytes, so after a revocation it is asked to delete them too.
    public mutating func replicationFailed(_ hash: ContentHash, at peer: PeerID, now: NetworkInstant) -> [Action] {
        guard var e = entries[hash] else { return lateReplica(hash, at: peer) }
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

    /// A replication answer arrived after the content was revoked: make sure the peer deletes it.
    private mutating func lateReplica(_ hash: ContentHash, at peer: PeerID) -> [Action] {
        let key = TombstoneKey(hash: hash, owner: localPeer)
        guard var t = tombstones[key], t.unacknowledged[peer] == nil, !t.abandoned.contains(peer) else { return [] }
        t.unacknowledged[peer] = Tombstone.Retry(attempts: 1, next: nil)
        tombstones[key] = t
        return [.requestDeletion(hash, at: peer)]
    }

    /// Another node asks us to delete a replica we hold (or are fetching) for it; only a
    /// replica made for that very peer is deleted. The request is then remembered (a
    /// tombstone of that owner only), so that a fetch still on its way is dropped and the
    /// same owner's later REPLICATE of it is refused. A DELETE for anything else — content
    /// not held, or held for someone else — changes nothing and leaves no tombstone, so it
    /// can neither censor a hash nor fill the tombstones (security review finding 6a).
    public mutating func deletionRequested(_ hash: ContentHash, by peer: PeerID, now: NetworkInstant) -> [Action] {
        guard peer != localPeer else { return [] }
        let key = TombstoneKey(hash: hash, owner: peer)
        let fetching = incoming.removeValue(forKey: key) != nil
        let holds = entries[hash]?.origin == .replica(owner: peer)
        guard holds || fetching else { return [] }
        bury(key, Tombstone(reason: .ownerRequest, at: now), now: now)
        return holds ? delete(hash, reason: .ownerRequest, now: now) : []
    }

    /// The holder acknowledged a deletion request (it no longer keeps a replica for us).
    public mutating func deletionAcknowledged(_ hash: ContentHash, by peer: PeerID) {
        tombstones[TombstoneKey(hash: hash, owner: localPeer)]?.unacknowledged[peer] = nil
    }

    /// A deletion request could not be delivered or was not answered: retry later, with backoff.
    public mutating func deletionFailed(_ hash: ContentHash, at peer: PeerID, now: NetworkInstant) {
        let key = TombstoneKey(hash: hash, owner: localPeer)
        guard var t = tombstones[key], var retry = t.unacknowledged[peer] else { return }
        if retry.attempts >= configuration.maxDeletionAttempts {
            t.unacknowledged[peer] = nil
            t.abandoned.insert(peer)
        } else {
            let factor = Int64(1) << Int64(min(retry.attempts - 1, 16))
            retry.next = now + configuration.deletionRetryDelay * factor
            t.unacknowledged[peer] = retry
        }
        tombstones[key] = t
    }

    private mutating func delete(_ hash: ContentHash, reason: DeletionReason, now: NetworkInstant) -> [Action] {
        guard let e = entries[hash] else { return [] }
        put(hash, nil)
        var actions: [Action] = [.deleteLocal(hash)]
        // Every peer ever asked to replicate may hold the bytes: replicas, requests still in
        // flight, and peers that failed, timed out or were thought lost.
        let notify = e.origin == .own ? e.replicas.union(e.pending).union(e.refused).sorted() : []
        if e.origin == .own && (reason == .revoked || reason == .expired) {
            var t = Tombstone(reason: reason, at: now)
            for p in notify { t.unacknowledged[p] = Tombstone.Retry(attempts: 1, next: nil) }
            bury(TombstoneKey(hash: hash, owner: localPeer), t, now: now)
        }
        for p in notify { actions.append(.requestDeletion(hash, at: p)) }
        deletions.append(Deletion(hash: hash, at: now, reason: reason, notified: notify))
        if deletions.count > Self.maxDeletionLog { deletions.removeFirst(deletions.count - Self.maxDeletionLog) }
        return actions
    }

    /// Records a tombstone. Another owner's is bounded per owner (past
    /// ``Configuration/maxTombstonesPerOwner`` it is not recorded) and in total (past
    /// ``Configuration/maxTombstones`` the oldest other owner's tombstone goes, found in O(1)
    /// amortized); this node's own, which may still have deletions to retry, are never
    /// evicted by others' (security review finding 6c).
    private mutating func bury(_ key: TombstoneKey, _ tombstone: Tombstone, now: NetworkInstant) {
        guard tombstones[key] == nil else { return }
        if key.owner != localPeer {
            guard foreignTombstones[key.owner, default: 0] < configuration.maxTombstonesPerOwner else { return }
            while foreignCount >= configuration.maxTombstones, let oldest = oldestForeign() { forget(oldest) }
            guard foreignCount < configuration.maxTombstones else { return }
            nextSeq += 1
            foreignSeq[key] = nextSeq
            foreignOrder.append((key, nextSeq))
            foreignTombstones[key.owner, default: 0] += 1
            foreignCount += 1
        }
        tombstones[key] = tombstone
        if tombstone.reason != .ownerRequest { buried[key.hash, default: 0] += 1 }
    }

    /// The oldest live tombstone of another owner (entries of forgotten ones are skipped).
    private mutating func oldestForeign() -> TombstoneKey? {
        while foreignHead < foreignOrder.count {
            let (key, seq) = foreignOrder[foreignHead]
            foreignHead += 1
            if foreignSeq[key] == seq { return key }
        }
        return nil
    }

    private mutating func forget(_ key: TombstoneKey) {
        guard let t = tombstones.removeValue(forKey: key) else { return }
        if t.reason != .ownerRequest {
            buried[key.hash, default: 1] -= 1
            if buried[key.hash] == 0 { buried[key.hash] = nil }
        }
        guard foreignSeq.removeValue(forKey: key) != nil else { return }
        foreignCount -= 1
        foreignTombstones[key.owner, default: 1] -= 1
        if foreignTombstones[key.owner] == 0 { foreignTombstones[key.owner] = nil }
        // Drop the order's dead entries once they outnumber the live ones (amortized O(1)).
        if foreignOrder.count - foreignHead > 2 * foreignCount + 1024 {
            foreignOrder = foreignOrder[foreignHead...].filter { foreignSeq[$0.key] == $0.seq }
            foreignHead = 0
        } else if foreignHead > 1024, foreignHead * 2 > foreignOrder.count {
            foreignOrder.removeFirst(foreignHead)
            foreignHead = 0
        }
    }

    /// Deletion requests due for a retry; tombstones past their retention are forgotten.
    private mutating func retryDeletions(now: NetworkInstant) -> [Action] {
        var actions: [Action] = []
        for key in tombstones.keys.sorted(by: { $0.hash.key.lexicographicallyPrecedes($1.hash.key) || ($0.hash == $1.hash && $0.owner < $1.owner) }) {
            guard var t = tombstones[key] else { continue }
            if now - t.at >= configuration.tombstoneRetention {
                forget(key)
                continue
            }
            guard key.owner == localPeer else { continue }
            for (peer, retry) in t.unacknowledged.sorted(by: { $0.key < $1.key }) {
                guard let next = retry.next, next <= now else { continue }
                t.unacknowledged[peer] = Tombstone.Retry(attempts: retry.attempts + 1, next: nil)
                actions.append(.requestDeletion(key.hash, at: peer))
            }
            tombstones[key] = t
        }
        return actions
    }

    // MARK: time

    /// Expiry, retention, eviction, periodic replica checks, and retries of unacknowledged deletions.
    public mutating func tick(now: NetworkInstant) -> [Action] {
        incoming = incoming.filter { now - $0.value.since < configuration.replicaFetchTimeout }
        var actions = retryDeletions(now: now)
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
        return actions + evict(now: now) + revocationChecks(now: now)
    }

    /// Copies fetched under a known owner whose revocation was not looked for within
    /// ``Configuration/revocationCheckInterval``, oldest first, bounded per tick.
    private mutating func revocationChecks(now: NetworkInstant) -> [Action] {
        let due = entries.compactMap { hash, e -> (ContentHash, NetworkInstant?, String, PeerID)? in
            guard e.origin == .fetched || e.origin == .cached, let id = e.contentID, let owner = e.owner else { return nil }
            if let last = e.lastRevocationCheck, now - last < configuration.revocationCheckInterval { return nil }
            return (hash, e.lastRevocationCheck, id, owner)
        }
        .sorted { a, b in
            let (x, y) = (a.1 ?? .zero, b.1 ?? .zero)
            return x != y ? x < y : a.0.key.lexicographicallyPrecedes(b.0.key)
        }
        var actions: [Action] = []
        for (hash, _, id, owner) in due.prefix(max(0, configuration.maxRevocationChecksPerTick)) {
            entries[hash]!.lastRevocationCheck = now
            actions.append(.checkRevocation(hash, contentID: id, owner: owner))
        }
        return actions
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

// MARK: - persistence

extension StorageManager {
    /// What ``restore(_:files:now:unixNow:)`` did.
    public struct Restoration: Sendable, Equatable {
        /// To execute: provide everything held, check replicas of own content and repair them,
        /// delete expired or refused files, ask holders of expired content to delete it.
        public var actions: [Action] = []
        /// Entries restored from the index (with their file present).
        public var restored = 0
        /// Files present without an index entry, adopted as cached content.
        public var adopted: [ContentHash] = []
        /// Index entries whose file is missing (or fails its hash), forgotten.
        public var dropped: [ContentHash] = []
        /// Content found expired (deleted, and for own content its holders asked to delete).
        public var expired: [ContentHash] = []
        /// Files of content tombstoned here (deleted).
        public var refused: [ContentHash] = []
    }

    /// This node's state as wall-clock records, to write to disk.
    public func snapshot(now: NetworkInstant, unixNow: UInt64) -> StorageIndex {
        func unix(_ t: NetworkInstant) -> UInt64 {
            let delta = (t - now).components.seconds
            return delta >= 0 ? unixNow &+ UInt64(delta) : unixNow - min(unixNow, UInt64(-delta))
        }
        let items = entries.sorted { $0.key.key.lexicographicallyPrecedes($1.key.key) }.map { hash, e in
            StorageIndex.Item(hash: hash, origin: e.origin, owner: e.owner, size: e.size, replicationFactor: e.replicationFactor,
                              pinned: e.pinned, expiresAt: e.expiresAt.map(unix), lastAccess: unix(e.lastAccess),
                              replicas: e.replicas.union(e.pending).sorted(), refused: e.refused.subtracting(e.replicas).sorted(),
                              contentID: e.contentID, contentType: e.record?.contentType, createdAt: e.record?.createdAt,
                              topics: e.record?.topics ?? [])
        }
        let graves = tombstones.sorted { a, b in
                a.key.hash == b.key.hash ? a.key.owner < b.key.owner : a.key.hash.key.lexicographicallyPrecedes(b.key.hash.key)
            }
            .map { key, t in
                StorageIndex.Grave(hash: key.hash, owner: key.owner, reason: t.reason, at: unix(t.at),
                                   unacknowledged: t.unacknowledged.mapValues(\.attempts), abandoned: t.abandoned.sorted())
            }
        return StorageIndex(items: items, graves: graves)
    }

    /// Rebuilds the state after a restart from `index` (nil or partial when the file was
    /// missing or damaged) and the bundle files found on disk (`files`: hash → size, every
    /// one verified against its hash by the shell). An entry without a file is dropped; a
    /// file without an entry is adopted as cached content; tombstones come back with their
    /// unacknowledged deletions due at once; expired content is deleted. Replicas of own
    /// content are checked again (and repaired to the factor).
    public mutating func restore(_ index: StorageIndex?, files: [ContentHash: Int], now: NetworkInstant,
                                 unixNow: UInt64) -> Restoration {
        func instant(_ unix: UInt64) -> NetworkInstant {
            if unix >= unixNow { return now + .seconds(Int64(min(unix - unixNow, UInt64(Int64.max / 4_000_000_000)))) }
            let back = min(unix == 0 ? UInt64.max : unixNow - unix, now.nanoseconds / 1_000_000_000)
            return NetworkInstant(nanoseconds: now.nanoseconds - back * 1_000_000_000)
        }
        var out = Restoration()
        // Oldest first, so the eviction order of other owners' tombstones follows their age.
        for g in (index?.graves ?? []).sorted(by: { $0.at < $1.at }) {
            var t = Tombstone(reason: g.reason, at: instant(g.at))
            for (peer, attempts) in g.unacknowledged { t.unacknowledged[peer] = Tombstone.Retry(attempts: max(1, attempts), next: now) }
            t.abandoned = Set(g.abandoned)
            bury(TombstoneKey(hash: g.hash, owner: g.owner), t, now: now)
        }
        var seen: Set<ContentHash> = []
        for item in index?.items ?? [] where seen.insert(item.hash).inserted {
            guard let size = files[item.hash] else { out.dropped.append(item.hash); continue }
            let owner: PeerID? = if case .replica(let o) = item.origin { o } else { item.origin == .own ? localPeer : item.owner }
            if let owner, tombstones[TombstoneKey(hash: item.hash, owner: owner)] != nil || (item.origin != .own && isTombstoned(item.hash)) {
                out.refused.append(item.hash)
                out.actions.append(.deleteLocal(item.hash))
                continue
            }
            let tier: Tier = switch item.origin {
            case .own, .fetched: .hot
            case .replica: .cold
            case .cached: item.pinned ? .hot : .warm
            }
            var e = Entry(size: size, origin: item.origin, tier: tier, replicationFactor: item.origin == .own ? item.replicationFactor : 0,
                          lastAccess: instant(item.lastAccess), expiresAt: item.expiresAt.map(instant), lastRepairCheck: now,
                          contentID: item.contentID, owner: item.origin == .fetched || item.origin == .cached ? item.owner : nil,
                          record: item.contentType.map { RecordInfo(contentType: $0, createdAt: item.createdAt ?? 0, topics: item.topics) },
                          lastRevocationCheck: nil)
            e.pinned = item.pinned
            e.replicas = Set(item.replicas).subtracting([localPeer])
            e.refused = Set(item.refused).subtracting(e.replicas)
            put(item.hash, e)
            out.restored += 1
        }
        for (hash, size) in files.sorted(by: { $0.key.key.lexicographicallyPrecedes($1.key.key) }) where entries[hash] == nil && !seen.contains(hash) {
            if isTombstoned(hash) {
                out.refused.append(hash)
                out.actions.append(.deleteLocal(hash))
                continue
            }
            put(hash, Entry(size: size, origin: .cached, tier: .warm, replicationFactor: 0, lastAccess: now,
                            expiresAt: nil, lastRepairCheck: now))
            out.adopted.append(hash)
        }
        for hash in entries.keys.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            guard let e = entries[hash] else { continue }
            if let expiry = e.expiresAt, expiry <= now {
                out.expired.append(hash)
                out.actions += delete(hash, reason: .expired, now: now)
                continue
            }
            out.actions.append(.announce(hash))
            if e.origin == .own {
                out.actions += e.replicas.sorted().map { .verifyReplica(hash, at: $0) }
                out.actions += repairIfNeeded(hash)
            }
        }
        out.actions += evict(now: now)
        return out
    }
}

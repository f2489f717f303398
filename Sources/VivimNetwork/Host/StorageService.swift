import Logging
import Synchronization

/// The I/O shell of ``StorageManager``: bytes in a ``ContentStore``, providing
/// and target selection through ``DHTService``, transfers through
/// ``ContentTransferService``, and the `/vivim/replicate/1.0.0` protocol for
/// replicas, deletion requests and replica checks. It keeps the manager's state in a
/// ``StorageIndex`` file next to the bundles (rewritten atomically shortly after each
/// change and on ``stop()``) and restores it on ``start()``.
public actor StorageService {
    public struct Configuration: Sendable {
        public var storage = StorageManager.Configuration()
        public var transfer = ContentTransferService.Configuration()
        public var tickInterval: Duration = .seconds(10)
        public var requestTimeout: Duration = .seconds(30)
        /// Keep the storage index on disk (``ContentStore/indexName``) and restore it on start.
        public var persistIndex = true
        /// Changes are written at most this long after they happen (coalesced).
        public var indexFlushDelay: Duration = .milliseconds(200)
        /// False when an orchestrator calls ``tick()`` on its own schedule (``VivimNode`` does).
        public var runsOwnTicker = true
        public init() {}
    }

    /// How providers and replica holders are chosen (SPEC §8.7's content router and
    /// topology); without one, DHT order is used.
    public struct Routing: Sendable {
        /// Providers of a bundle, best first.
        public var rank: @Sendable ([KadMessage.Peer]) async -> [KadMessage.Peer]
        /// The result of one fetch attempt from a provider.
        public var report: @Sendable (ContentRouter.FetchOutcome) async -> Void
        /// Up to `count` replica holders for a DHT key among the closest peers found.
        public var targets: @Sendable (_ key: [UInt8], _ candidates: [PeerID], _ count: Int) async -> [PeerID]
        public init(rank: @escaping @Sendable ([KadMessage.Peer]) async -> [KadMessage.Peer],
                    report: @escaping @Sendable (ContentRouter.FetchOutcome) async -> Void,
                    targets: @escaping @Sendable ([UInt8], [PeerID], Int) async -> [PeerID]) {
            self.rank = rank
            self.report = report
            self.targets = targets
        }
    }

    private let host: P2PHost
    private let dht: DHTService
    private let store: ContentStore
    public nonisolated let transfer: ContentTransferService
    private var manager: StorageManager
    private let configuration: Configuration
    private var tasks: [UInt64: Task<Void, Never>] = [:]
    private var nextTask: UInt64 = 0
    private var ticker: Task<Void, Never>?
    private var routing: Routing?
    private let logger: Logger
    /// Network actions of the restore (provide, replica checks, repair), run once the DHT knows a peer.
    private var restoredActions: [StorageManager.Action] = []
    private var loaded = false
    /// Set when the directory could not be read at start: the index on disk is left as it is.
    private var indexDisabled = false
    private var stopped = false
    private var dirty = false
    private var writing = false
    private var flushTask: Task<Void, Never>?
    private var writeWaiters: [CheckedContinuation<Void, Never>] = []
    /// Instants start ten years after the epoch so that restored times in the past stay representable.
    private static let epoch: UInt64 = 10 * 365 * 24 * 3600 * 1_000_000_000

    public enum Error: Swift.Error, Equatable, Sendable {
        /// The content was revoked (or expired, or deleted by its owner) here: it is not
        /// published, fetched or served again.
        case revoked(ContentHash)
    }

    public init(host: P2PHost, dht: DHTService, store: ContentStore, configuration: Configuration = .init(),
                logger: Logger = Logger(label: "vivim.storage")) {
        self.host = host
        self.dht = dht
        self.store = store
        self.configuration = configuration
        self.manager = StorageManager(localPeer: host.peerID, configuration: configuration.storage)
        self.transfer = ContentTransferService(host: host, configuration: configuration.transfer) { [store] hash in
            await store.read(hash)
        }
        self.logger = logger
    }

    private var now: NetworkInstant { host.configuration.clock.now + .nanoseconds(Int64(Self.epoch)) }
    private var unixNow: UInt64 { host.configuration.clock.unixSeconds }

    /// Restores the index (reconciled with the verified files on disk), then serves content
    /// and replication requests and runs the timers. The restore's network actions wait for
    /// ``announceRestored()`` or the first tick with a peer in the routing table.
    public func start() async {
        guard !loaded, !stopped else { return }
        await restore()
        loaded = true
        await transfer.setSource { [weak self] hash in await self?.servable(hash) }
        await transfer.start()
        host.handle(ReplicationProtocol.protocolID) { [weak self] stream in
            try await self?.serve(stream)
        }
        guard configuration.runsOwnTicker else { return }
        let interval = configuration.tickInterval
        ticker = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                await self?.tick()
            }
        }
    }

    /// Stops the timers and pending work and writes the index a last time.
    public func stop() async {
        guard !stopped else { return }
        stopped = true  // from here on nothing schedules a write: the one below is the last
        ticker?.cancel()
        for t in tasks.values { t.cancel() }
        tasks = [:]
        flushTask?.cancel()
        flushTask = nil
        await writeIndex()
    }

    // MARK: restart

    private func restore() async {
        guard configuration.persistIndex else { return }
        // Detached: a cancelled caller must not make the files look missing.
        let store = self.store, maxSize = configuration.transfer.maxBundleSize
        let read = await Task.detached { () -> Result<([UInt8]?, [ContentHash: Int], Int), any Swift.Error> in
            do {
                let index = try await store.readIndex()
                let (files, removed) = try await store.verifiedFiles(maxSize: maxSize)
                return .success((index, files, removed))
            } catch {
                return .failure(error)
            }
        }.value
        guard case .success(let (bytes, files, removed)) = read else {
            if case .failure(let error) = read {
                logger.error("content directory not readable; storage index neither restored nor written", metadata: ["error": "\(error)"])
            }
            indexDisabled = true
            return
        }
        let decoded = bytes.map(StorageIndex.decode)
        let outcome = manager.restore(decoded?.index, files: files, now: now, unixNow: unixNow)
        if let decoded, decoded.damaged {
            logger.warning("storage index damaged; rebuilt from the files present", metadata: [
                "records read": "\(decoded.records)", "adopted": "\(outcome.adopted.count)"])
        }
        if removed > 0 { logger.warning("bundle files failing their hash removed", metadata: ["count": "\(removed)"]) }
        if decoded != nil || !files.isEmpty {
            logger.info("storage restored", metadata: [
                "entries": "\(outcome.restored)", "adopted": "\(outcome.adopted.count)", "dropped": "\(outcome.dropped.count)",
                "expired": "\(outcome.expired.count)", "tombstones": "\(manager.tombstones.count)"])
        }
        for action in outcome.actions {
            if case .deleteLocal = action { execute([action]) } else { restoredActions.append(action) }
        }
        dirty = true
    }

    /// Runs the restore's network actions now: provide every bundle held, check the
    /// replicas of own content and repair them, ask holders of expired content to delete.
    public func announceRestored() {
        let actions = restoredActions
        restoredActions = []
        execute(actions)
    }

    /// Own content published under `contentID` (known across restarts).
    public func ownContent(_ contentID: String) -> ContentHash? {
        manager.entries.first { $0.value.origin == .own && $0.value.contentID == contentID }?.key
    }

    /// Own content with a content id, and its record fields (what to put in the DHT again after a restart).
    public var ownRecords: [(contentID: String, hash: ContentHash, entry: StorageManager.Entry)] {
        manager.entries.compactMap { hash, e in
            guard e.origin == .own, let id = e.contentID else { return nil }
            return (id, hash, e)
        }.sorted { $0.contentID < $1.contentID }
    }

    /// Content ids of copies fetched under a known owner (whose revocation notices to listen for).
    public var fetchedContent: [(contentID: String, hash: ContentHash, owner: PeerID)] {
        manager.entries.compactMap { hash, e in
            guard e.origin == .fetched || e.origin == .cached, let id = e.contentID, let owner = e.owner else { return nil }
            return (id, hash, owner)
        }.sorted { $0.contentID < $1.contentID }
    }

    /// Whether `hash` was revoked or deleted by its owner here (never fetched, stored or served again).
    public func isTombstoned(_ hash: ContentHash) -> Bool { manager.isTombstoned(hash) }

    /// A revocation seen on pubsub or in the DHT: if it is signed by the owner a local copy
    /// was fetched under, the copy is deleted and tombstoned. Returns whether it was.
    @discardableResult
    public func revocationSeen(_ record: ContentRecord) -> Bool {
        let hash = record.bundleHash
        guard record.status == .revoked, let e = manager.entries[hash] else { return false }
        let owner: PeerID? = switch e.origin {
        case .own: nil
        case .replica(let o): o
        case .fetched, .cached: e.owner
        }
        guard let owner, record.isRevocation(by: owner) else { return false }
        execute(manager.revocationSeen(hash, by: owner, now: now))
        logger.info("copy deleted after its owner's revocation", metadata: ["hash": "\(hash)", "owner": "\(owner)"])
        return manager.entries[hash] == nil
    }

    private func servable(_ hash: ContentHash) async -> [UInt8]? {
        guard manager.entries[hash] != nil, !manager.isTombstoned(hash) else { return nil }
        return await store.read(hash)
    }

    // MARK: index file

    private func scheduleFlush() {
        guard loaded, !stopped, !indexDisabled, configuration.persistIndex else { return }
        dirty = true
        guard flushTask == nil else { return }
        let delay = configuration.indexFlushDelay
        flushTask = Task { [weak self] in
            try? await Task.sleep(for: delay)
            await self?.flushScheduled()
        }
    }

    private func flushScheduled() async {
        flushTask = nil
        await flush()
    }

    /// Writes the index now if anything changed.
    public func flush() async {
        guard !stopped else { return }
        await writeIndex()
    }

    /// One write at a time; a caller arriving during a write waits for it, then writes what changed since.
    private func writeIndex() async {
        guard loaded, !indexDisabled, configuration.persistIndex else { return }
        for _ in 0..<64 where writing { await withCheckedContinuation { writeWaiters.append($0) } }
        guard dirty, !writing else { return }
        writing = true
        dirty = false
        let bytes = manager.snapshot(now: now, unixNow: unixNow).encoded
        do {
            let store = self.store
            try await Task.detached { try await store.writeIndex(bytes) }.value  // not cut short by a cancelled caller
        } catch {
            dirty = true
            logger.warning("storage index not written", metadata: ["error": "\(error)"])
        }
        writing = false
        let waiters = writeWaiters
        writeWaiters = []
        for w in waiters { w.resume() }
    }

    // MARK: API

    /// Stores own content, provides it and replicates it to `replicationFactor` peers.
    /// `contentID` and `record` are kept in the index, so the content is known (and its
    /// record signed again) after a restart.
    @discardableResult
    public func publish(_ bytes: [UInt8], replicationFactor: Int? = nil, expiresIn: Duration? = nil,
                        contentID: String? = nil, record: StorageManager.RecordInfo? = nil) async throws -> ContentHash {
        let hash = ContentHash(of: bytes)
        guard !manager.isRevoked(hash) else { throw Error.revoked(hash) }
        try await store.write(bytes, as: hash)
        execute(manager.stored(hash, size: bytes.count, origin: .own, replicationFactor: replicationFactor,
                               expiresAt: expiresIn.map { now + $0 }, contentID: contentID, record: record, now: now))
        return hash
    }

    /// Local bytes, or fetched (hash-verified) from a provider found in the DHT and kept in the hot tier.
    /// `contentID` and `owner` say what it was fetched as, so the owner's revocation reaches the copy.
    /// Refused (``Error/revoked(_:)``) for a hash tombstoned here.
    public func get(_ hash: ContentHash, contentID: String? = nil, owner: PeerID? = nil) async throws -> [UInt8] {
        guard !manager.isTombstoned(hash) || manager.entries[hash]?.origin == .own else { throw Error.revoked(hash) }
        if manager.entries[hash] != nil, let local = await store.read(hash) {
            manager.accessed(hash, now: now)
            // A read writes nothing by itself: the access time (hot-tier retention, days) goes to
            // disk with the next change's snapshot or at stop, not a whole-index rewrite per read.
            dirty = true
            return local
        }
        var lastError: any Swift.Error = ContentTransferService.Error.notFound
        let found = try await dht.findProviders(Self.providerKey(hash, contentID: contentID), wanted: 3)
        let providers = await routing?.rank(found) ?? found
        for provider in providers where provider.id != host.peerID {
            do {
                let started = ContinuousClock.now
                let bytes: [UInt8]
                do {
                    bytes = try await transfer.fetch(hash, from: provider.id, addrs: provider.addrs)
                } catch {
                    await routing?.report(.failure(provider.id))
                    throw error
                }
                await routing?.report(.success(provider.id, bytes: bytes.count, duration: ContinuousClock.now - started))
                guard !manager.isTombstoned(hash) else { throw Error.revoked(hash) }
                try await store.write(bytes, as: hash)
                execute(manager.stored(hash, size: bytes.count, origin: .fetched, contentID: contentID, owner: owner, now: now))
                return bytes
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    /// The DHT key a bundle is provided and looked up under: the SHA-256 multihash of its
    /// content id (SPEC §8.2, ``ContentHash/providerKey(contentID:)``), so any libp2p node
    /// finds its providers from the content id alone; a bundle known only by its hash is
    /// provided under its own multihash.
    static func providerKey(_ hash: ContentHash, contentID: String?) -> [UInt8] {
        contentID.map(ContentHash.providerKey(contentID:)) ?? hash.key
    }

    /// Provider ranking, fetch feedback and replica-holder choice (set by ``VivimNode``).
    public func setRouting(_ routing: Routing?) { self.routing = routing }

    public func pin(_ hash: ContentHash) { manager.pin(hash); scheduleFlush() }
    public func unpin(_ hash: ContentHash) { execute(manager.unpin(hash, now: now)) }

    /// Deletes own content here and asks every replica holder to delete it.
    public func revoke(_ hash: ContentHash) { execute(manager.revoke(hash, now: now)) }

    public func replicas(of hash: ContentHash) -> Set<PeerID> { manager.entries[hash]?.replicas ?? [] }
    public func entry(_ hash: ContentHash) -> StorageManager.Entry? { manager.entries[hash] }
    public var deletions: [StorageManager.Deletion] { manager.deletions }
    public func tombstone(_ hash: ContentHash, owner: PeerID? = nil) -> StorageManager.Tombstone? {
        manager.tombstones[StorageManager.TombstoneKey(hash: hash, owner: owner ?? host.peerID)]
    }
    /// Bundles known to this node (own, replicas, fetched and cached).
    public var contentCount: Int { manager.entries.count }

    /// Runs the manager's timers now (also called periodically).
    public func tick() async {
        if !restoredActions.isEmpty, await dht.routingTableSize > 0 { announceRestored() }
        execute(manager.tick(now: now))
    }

    // MARK: actions

    private func execute(_ actions: [StorageManager.Action]) {
        scheduleFlush()
        for action in actions {
            switch action {
            case .announce(let hash):
                let key = Self.providerKey(hash, contentID: manager.entries[hash]?.contentID)
                spawn { [dht] in _ = try? await dht.provide(key) }
            case .findTargets(let hash, let count):
                spawn { [weak self, dht] in
                    guard let result = try? await dht.findNode(hash.key) else { return }
                    let chosen = await self?.routing?.targets(hash.key, result.closest, count) ?? Array(result.closest.prefix(count))
                    await self?.targetsFound(hash, chosen)
                }
            case .replicate(let hash, let peer, let expiresAt):
                let size = UInt64(manager.entries[hash]?.size ?? 0)
                let expiresIn = expiresAt.map { UInt64(max(0, ($0 - now).components.seconds)) }
                let request = ReplicationProtocol.Request(kind: .replicate, hash: hash, size: size, expiresIn: expiresIn,
                                                          record: replicationRecord(hash, size: size))
                spawn { [weak self] in
                    let ok = (try? await self?.send(request, to: peer)) ?? false
                    await self?.replicationDone(hash, peer, ok)
                }
            case .verifyReplica(let hash, let peer):
                let request = ReplicationProtocol.Request(kind: .have, hash: hash, size: 0, expiresIn: nil)
                spawn { [weak self] in
                    // An error (unreachable, timeout) counts as lost too: the peer stays on the
                    // list of holders asked to delete on revocation, so a false alarm costs one
                    // extra replica, never an orphan.
                    let has = (try? await self?.send(request, to: peer)) ?? false
                    if !has { await self?.lost(hash, peer) }
                }
            case .checkRevocation(let hash, let contentID, let owner):
                spawn { [weak self, dht] in
                    guard let value = try? await dht.getValue(ContentRecord.key(for: contentID)),
                          let record = try? ContentRecord(decoding: value),
                          record.contentID == contentID, record.bundleHash == hash, record.isRevocation(by: owner) else { return }
                    await self?.revocationSeen(record)
                }
            case .deleteLocal(let hash):
                spawn { [store] in await store.delete(hash) }
            case .requestDeletion(let hash, let peer):
                let request = ReplicationProtocol.Request(kind: .delete, hash: hash, size: 0, expiresIn: nil)
                spawn { [weak self] in
                    let acknowledged = (try? await self?.send(request, to: peer)) ?? false
                    await self?.deletionDone(hash, peer, acknowledged)
                }
            }
        }
    }

    /// The record a REPLICATE of own content carries, signed by this node as its owner: the
    /// content id (or the hash's base58 form for a bundle published by hash alone), the bundle
    /// and its size; no addresses, so the request stays small.
    private func replicationRecord(_ hash: ContentHash, size: UInt64) -> ContentRecord? {
        let entry = manager.entries[hash]
        var record = ContentRecord(
            contentID: entry?.contentID ?? hash.description,
            contentType: entry?.record?.contentType ?? "application/vivim-bundle+json", bundleHash: hash,
            metadata: .init(size: size, createdAt: entry?.record?.createdAt ?? 0,
                            replicationFactor: UInt32(clamping: entry?.replicationFactor ?? 0)),
            owner: host.peerID)
        do { try record.sign(as: host.identity, addrs: [], at: unixNow) } catch { return nil }
        return record
    }

    private func targetsFound(_ hash: ContentHash, _ peers: [PeerID]) {
        execute(manager.targetsFound(hash, candidates: peers, now: now))
    }

    private func replicationDone(_ hash: ContentHash, _ peer: PeerID, _ ok: Bool) {
        if ok {
            execute(manager.replicationSucceeded(hash, at: peer, now: now))
        } else {
            execute(manager.replicationFailed(hash, at: peer, now: now))
        }
    }

    private func deletionDone(_ hash: ContentHash, _ peer: PeerID, _ acknowledged: Bool) {
        if acknowledged {
            manager.deletionAcknowledged(hash, by: peer)
        } else {
            manager.deletionFailed(hash, at: peer, now: now)
        }
        scheduleFlush()
    }

    private func lost(_ hash: ContentHash, _ peer: PeerID) {
        execute(manager.replicaLost(hash, at: peer, now: now))
    }

    private func spawn(_ body: @escaping @Sendable () async -> Void) {
        nextTask += 1
        let id = nextTask
        tasks[id] = Task { [weak self] in
            await body()
            await self?.finished(id)
        }
    }

    private func finished(_ id: UInt64) { tasks[id] = nil }

    /// Sends one replication request and returns the peer's answer (bounded by `requestTimeout`).
    private func send(_ request: ReplicationProtocol.Request, to peer: PeerID) async throws -> Bool {
        try await withDeadline(configuration.requestTimeout) { [weak self] in
            guard let self else { throw P2PError.connectionClosed }
            return try await self.exchange(request, with: peer)
        }
    }

    private func exchange(_ request: ReplicationProtocol.Request, with peer: PeerID) async throws -> Bool {
        let addresses = host.connections(to: peer).isEmpty ? await dht.addresses(of: peer) : []
        let connection = try await host.connection(to: peer, addresses: addresses)
        let stream = try await connection.openStream(ReplicationProtocol.protocolID)
        do {
            try await stream.write(ReplicationProtocol.encode(request))
            stream.closeWrite()
            var reader = StreamReader(stream)
            guard let body = try await reader.readFrame(maxLength: ReplicationProtocol.maxMessage) else { throw P2PError.unexpectedEOF }
            stream.close()
            return try ReplicationProtocol.decodeResponse(body)
        } catch {
            stream.reset()
            throw error
        }
    }

    // MARK: serving

    private func serve(_ stream: P2PStream) async throws {
        let sender = stream.connection.remotePeer
        var reader = StreamReader(stream)
        guard let body = try await reader.readFrame(maxLength: ReplicationProtocol.maxMessage) else { return }
        let request = try ReplicationProtocol.decodeRequest(body)
        let ok: Bool
        switch request.kind {
        case .have:
            ok = manager.entries[request.hash] != nil && !manager.isTombstoned(request.hash) ? await store.read(request.hash) != nil : false
        case .delete:
            // Acknowledged once processed: nothing is (or will be) kept here on the sender's behalf.
            execute(manager.deletionRequested(request.hash, by: sender, now: now))
            ok = true
        case .replicate:
            ok = await acceptReplica(request, from: sender)
        }
        try await stream.write(ReplicationProtocol.encode(ok: ok))
    }

    /// A REPLICATE: the manager checks the owner-signed record, tombstones, the owner's quota
    /// and clamps the expiry; the bytes are fetched from the owner (at most the declared size,
    /// within ``Configuration/requestTimeout``), written, and reported back.
    private func acceptReplica(_ request: ReplicationProtocol.Request, from owner: PeerID) async -> Bool {
        guard request.size <= UInt64(configuration.transfer.maxBundleSize) else { return false }
        switch manager.replicaRequested(request, from: owner, now: now, unixNow: unixNow) {
        case .refuse(let reason):
            logger.debug("replica refused", metadata: ["hash": "\(request.hash)", "owner": "\(owner)", "reason": "\(reason)"])
            return false
        case .alreadyHeld:
            scheduleFlush()
            return true
        case .fetch: break
        }
        let hash = request.hash, size = Int(request.size), transfer = self.transfer, store = self.store
        do {
            let bytes = try await withDeadline(configuration.requestTimeout) {
                try await transfer.fetch(hash, from: owner, maxSize: size)
            }
            try await store.write(bytes, as: hash)
            execute(manager.replicaFetched(hash, from: owner, size: bytes.count, now: now))
        } catch {
            manager.replicaFetchFailed(hash, from: owner)
            return false
        }
        // Deleted by the owner while the bytes were on their way, or not the declared size: dropped.
        return manager.entries[hash]?.origin == .replica(owner: owner)
    }
}

/// Runs `body`, throwing ``P2PError/timeout`` if it takes longer than `limit`. The body is
/// cancelled and left to unwind on its own (stream reads are not interrupted by
/// cancellation, so a task group would wait for them).
func withDeadline<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let once = Mutex<CheckedContinuation<T, any Error>?>(nil)
    let resume: @Sendable (Result<T, any Error>) -> Bool = { result in
        guard let c = once.withLock({ c -> CheckedContinuation<T, any Error>? in defer { c = nil }; return c }) else { return false }
        c.resume(with: result)
        return true
    }
    return try await withCheckedThrowingContinuation { continuation in
        once.withLock { $0 = continuation }
        let work = Task {
            do { _ = resume(.success(try await body())) } catch { _ = resume(.failure(error)) }
        }
        Task {
            try? await Task.sleep(for: limit)
            if resume(.failure(P2PError.timeout)) { work.cancel() }
        }
    }
}

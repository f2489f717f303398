import Logging
import Synchronization

/// The I/O shell of ``StorageManager``: bytes in a ``ContentStore``, providing
/// and target selection through ``DHTService``, transfers through
/// ``ContentTransferService``, and the `/vivim/replicate/1.0.0` protocol for
/// replicas, deletion requests and replica checks.
public actor StorageService {
    public struct Configuration: Sendable {
        public var storage = StorageManager.Configuration()
        public var transfer = ContentTransferService.Configuration()
        public var tickInterval: Duration = .seconds(10)
        public var requestTimeout: Duration = .seconds(30)
        public init() {}
    }

    private let host: P2PHost
    private let dht: DHTService
    private let store: ContentStore
    public nonisolated let transfer: ContentTransferService
    private var manager: StorageManager
    private let configuration: Configuration
    private let origin = ContinuousClock.now
    private var tasks: [UInt64: Task<Void, Never>] = [:]
    private var nextTask: UInt64 = 0
    private var ticker: Task<Void, Never>?
    private let logger: Logger

    public enum Error: Swift.Error, Equatable, Sendable {
        /// The content was revoked (or expired) here and is not published again.
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

    private var now: NetworkInstant { NetworkInstant(nanoseconds: (ContinuousClock.now - origin).nanoseconds) }

    public func start() async {
        await transfer.start()
        host.handle(ReplicationProtocol.protocolID) { [weak self] stream in
            try await self?.serve(stream)
        }
        let interval = configuration.tickInterval
        ticker = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                await self?.tick()
            }
        }
    }

    public func stop() {
        ticker?.cancel()
        for t in tasks.values { t.cancel() }
        tasks = [:]
    }

    // MARK: API

    /// Stores own content, provides it and replicates it to `replicationFactor` peers.
    @discardableResult
    public func publish(_ bytes: [UInt8], replicationFactor: Int? = nil, expiresIn: Duration? = nil) async throws -> ContentHash {
        let hash = ContentHash(of: bytes)
        guard !manager.isRevoked(hash) else { throw Error.revoked(hash) }
        try await store.write(bytes, as: hash)
        execute(manager.stored(hash, size: bytes.count, origin: .own, replicationFactor: replicationFactor,
                               expiresAt: expiresIn.map { now + $0 }, now: now))
        return hash
    }

    /// Local bytes, or fetched (hash-verified) from a provider found in the DHT and kept in the hot tier.
    public func get(_ hash: ContentHash) async throws -> [UInt8] {
        if let local = await store.read(hash) {
            manager.accessed(hash, now: now)
            return local
        }
        var lastError: any Swift.Error = ContentTransferService.Error.notFound
        for provider in try await dht.findProviders(hash.key, wanted: 3) where provider.id != host.peerID {
            do {
                let bytes = try await transfer.fetch(hash, from: provider.id, addrs: provider.addrs)
                try await store.write(bytes, as: hash)
                execute(manager.stored(hash, size: bytes.count, origin: .fetched, now: now))
                return bytes
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    public func pin(_ hash: ContentHash) { manager.pin(hash) }
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
    public func tick() { execute(manager.tick(now: now)) }

    // MARK: actions

    private func execute(_ actions: [StorageManager.Action]) {
        for action in actions {
            switch action {
            case .announce(let hash):
                spawn { [dht] in _ = try? await dht.provide(hash.key) }
            case .findTargets(let hash, let count):
                spawn { [weak self, dht] in
                    guard let result = try? await dht.findNode(hash.key) else { return }
                    await self?.targetsFound(hash, Array(result.closest.prefix(count)))
                }
            case .replicate(let hash, let peer, let expiresAt):
                let size = UInt64(manager.entries[hash]?.size ?? 0)
                let expiresIn = expiresAt.map { UInt64(max(0, ($0 - now).components.seconds)) }
                let request = ReplicationProtocol.Request(kind: .replicate, hash: hash, size: size, expiresIn: expiresIn)
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
        let connection: P2PConnection
        if let existing = host.connections(to: peer).first {
            connection = existing
        } else {
            guard let addr = await dht.addresses(of: peer).first else { throw P2PError.invalidAddress("no address for \(peer)") }
            connection = try await host.dial(addr.appending(.p2p(peer)))
        }
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
            ok = await store.read(request.hash) != nil
        case .delete:
            // Acknowledged once processed: nothing is (or will be) kept here on the sender's behalf.
            execute(manager.deletionRequested(request.hash, by: sender, now: now))
            ok = true
        case .replicate:
            ok = await acceptReplica(request, from: sender)
        }
        try await stream.write(ReplicationProtocol.encode(ok: ok))
    }

    private func acceptReplica(_ request: ReplicationProtocol.Request, from owner: PeerID) async -> Bool {
        guard request.size <= UInt64(configuration.transfer.maxBundleSize) else { return false }
        switch manager.replicaRequested(request.hash, size: Int(request.size), from: owner) {
        case .refuse: return false
        case .alreadyHeld: return true
        case .fetch: break
        }
        guard let bytes = try? await transfer.fetch(request.hash, from: owner),
              (try? await store.write(bytes, as: request.hash)) != nil else { return false }
        execute(manager.stored(request.hash, size: bytes.count, origin: .replica(owner: owner),
                               expiresAt: request.expiresIn.map { now + .seconds(Int64(min($0, UInt64(Int64.max / 2)))) }, now: now))
        // Revoked by the owner while the bytes were on their way: `stored` dropped them.
        return manager.entries[request.hash] != nil
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

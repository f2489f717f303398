#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One VIVIM P2P node (SPEC §8): the host, Kademlia DHT, gossipsub, storage with
/// replication, content transfer and the connection manager behind one facade —
/// what `vivim node`, `vivim serve` and the pipeline's distributor need. Each
/// part keeps its own Sans-IO core; this actor only wires them together and
/// watches their health (SPEC §8.7's monitor, §8.9's status).
public actor VivimNode {
    public struct Configuration: Sendable {
        /// TCP multiaddr to listen on (port 0 = any free port).
        public var listen: Multiaddr = (try? Multiaddr("/ip4/127.0.0.1/tcp/4001")) ?? Multiaddr([])
        /// Bootstrap peers (`/ip4/…/tcp/…/p2p/…`), kept connected with backoff.
        public var bootstrap: [Multiaddr] = []
        /// Where bundles are kept (one file per hash); the node key is passed in by the caller.
        public var contentDirectory: String
        public var nodeType: NodeType = .edge
        public var host = P2PHost.Configuration()
        public var dht = DHTService.Configuration()
        public var gossip = GossipsubRouter.Configuration()
        public var storage = StorageService.Configuration()
        public var connections = ConnectionManagerService.Configuration()
        /// How often the monitor checks peers and content (alerts, status).
        public var monitorInterval: Duration = .seconds(5)
        /// Content fetches running at once through ``fetch(contentId:)``.
        public var maxConcurrentFetches = 50
        /// `content:<id>` topics this node listens on for its owners' revocations of fetched copies.
        public var maxWatchedContentTopics = 1_000
        /// `/vivim/sync/1.0.0`: access policy, limits, anti-entropy (see VivimNode+Sync.swift).
        public var sync = DocumentSyncService.Configuration()
        /// mDNS discovery on the local network (SPEC §8.6; see VivimNode+Discovery.swift); nil = off.
        public var mdns: MDNSService.Configuration? = nil
        /// Task scheduler, topology and content router (SPEC §8.7): the one driver of the
        /// services' periodic work, provider ranking for fetches, replica-holder choice.
        public var orchestration = OrchestrationService.Configuration()
        /// While the routing table holds fewer than k peers, the node looks itself up again
        /// this often (doubling, up to 150×, while a lookup finds no one new): nodes that
        /// joined at the same moment through one seed find each other.
        public var selfLookupInterval: Duration = .seconds(2)
        public init(contentDirectory: String) { self.contentDirectory = contentDirectory }
    }

    /// Node types of SPEC §8.6 and what each offers the network.
    public enum NodeType: String, Sendable, CaseIterable, Codable {
        case bootstrap = "BOOTSTRAP", relay = "RELAY", indexer = "INDEXER", storage = "STORAGE"
        case edge = "EDGE", client = "CLIENT", selfHosted = "SELF_HOSTED"

        public struct Capabilities: Sendable, Equatable {
            /// Answers DHT requests for others.
            public var dhtServer: Bool
            /// Holds replicas for other nodes (cold tier).
            public var storesReplicas: Bool
            /// Relays gossip it does not subscribe to (as a mesh member).
            public var relaysPubSub: Bool
            /// Keeps the public discovery index (SPEC §8.8).
            public var indexes: Bool
        }

        public var capabilities: Capabilities {
            switch self {
            case .bootstrap: Capabilities(dhtServer: true, storesReplicas: false, relaysPubSub: true, indexes: false)
            case .relay: Capabilities(dhtServer: true, storesReplicas: false, relaysPubSub: true, indexes: false)
            case .indexer: Capabilities(dhtServer: true, storesReplicas: true, relaysPubSub: true, indexes: true)
            case .storage: Capabilities(dhtServer: true, storesReplicas: true, relaysPubSub: true, indexes: false)
            case .edge, .selfHosted: Capabilities(dhtServer: true, storesReplicas: true, relaysPubSub: true, indexes: false)
            case .client: Capabilities(dhtServer: false, storesReplicas: false, relaysPubSub: false, indexes: false)
            }
        }

        /// Parses `STORAGE`, `storage`, `self-hosted`, `self_hosted`.
        public init?(parsing text: String) {
            self.init(rawValue: text.uppercased().replacingOccurrences(of: "-", with: "_"))
        }
    }

    /// SPEC §8.9 `GET /api/v1/network/status`, plus the error rate of §8.7.
    public struct Status: Sendable, Equatable, Codable {
        public enum Health: String, Sendable, Codable { case healthy, degraded, unhealthy }
        public struct Latency: Sendable, Equatable, Codable {
            /// Milliseconds, from pings of connected peers.
            public var avg: Double, p50: Double, p99: Double
        }
        public var status: Health
        /// Nodes this node knows of (routing table + itself).
        public var nodeCount: Int
        public var activeConnections: Int
        public var contentCount: Int
        public var latency: Latency
        /// Failed network operations (dials, fetches, lookups) over all, recent window.
        public var errorRate: Double
    }

    /// A message received on a subscribed topic, its author verified (StrictSign).
    public typealias PubSubMessage = PubSubService.Delivery

    public enum Alert: Sendable, Equatable {
        /// A peer this node was connected to is gone and cannot be redialled.
        case nodeDown(PeerID)
        /// Own content has no reachable replica.
        case contentUnreachable(ContentHash)
        /// The node's health went down (to degraded or unhealthy).
        case degraded(Status.Health)
    }

    public enum NetworkEvent: Sendable, Equatable {
        case peerJoined(PeerID)
        case peerLeft(PeerID)
        case contentStored(ContentHash)
        case contentRevoked(ContentHash)
        case alert(Alert)
    }

    public enum Error: Swift.Error, Equatable, Sendable {
        case notStarted
        case invalidTopic(String)
        case unknownContent(String)
        case noProvider(String)
        /// The owner revoked the content (its signed DHT record says so).
        case revoked(String)
    }

    public let identity: PeerKeyPair
    public nonisolated let peerID: PeerID
    public let configuration: Configuration
    public nonisolated let host: P2PHost
    public nonisolated let dht: DHTService
    public nonisolated let pubsub: PubSubService
    public nonisolated let storage: StorageService
    public nonisolated let connections: ConnectionManagerService
    public nonisolated let sync: DocumentSyncService
    public nonisolated let orchestration: OrchestrationService
    /// Peer, content and alert events, for one consumer (e.g. `WS /ws/network`).
    public nonisolated let events: AsyncStream<NetworkEvent>
    private let eventSink: AsyncStream<NetworkEvent>.Continuation
    private var subscribers: [String: [UInt64: AsyncStream<PubSubMessage>.Continuation]] = [:]
    private var nextSubscriber: UInt64 = 0
    private var published: [String: ContentHash] = [:]
    /// `content:<id>` topics subscribed for revocation notices of fetched copies.
    private var watched: Set<String> = []
    /// Whether the restored content was provided and its records signed again (after joining).
    private var reannounced = false
    private var tasks: [Task<Void, Never>] = []
    private var started = false
    private var stopped = false
    private var operations = 0
    private var failures = 0
    private var lastHealth: Status.Health = .healthy
    private var alertedDown: Set<PeerID> = []
    private var alertedUnreachable: Set<ContentHash> = []
    private var fetchSlots: Int
    /// Self-lookup pacing while the routing table is sparse (see ``Configuration/selfLookupInterval``).
    private var selfLookupEvery = 1, selfLookupSkipped = 0
    private var fetchWaiters: [CheckedContinuation<Void, Never>] = []
    private let logger: Logger
    /// Local-network discovery, set by ``startDiscovery()`` (VivimNode+Discovery.swift).
    var mdnsService: MDNSService?

    public init(identity: PeerKeyPair, configuration: Configuration, logger: Logger = Logger(label: "vivim.node")) throws {
        self.identity = identity
        self.peerID = identity.peerID
        self.configuration = configuration
        self.logger = logger
        var hostConfig = configuration.host
        hostConfig.agentVersion = Self.agentVersion(hostConfig.agentVersion, configuration.nodeType)
        host = P2PHost(identity: identity, configuration: hostConfig, logger: logger)
        // The orchestrator runs the services' periodic work (see ``scheduleMaintenance()``).
        var dhtConfig = configuration.dht
        dhtConfig.runsOwnTicker = false
        dht = DHTService(host: host, configuration: dhtConfig, logger: logger)
        // Peers' subscriptions are recorded only for VIVIM topic names (SPEC §8.3), not any string.
        var gossipConfig = configuration.gossip
        if gossipConfig.acceptsTopic == nil { gossipConfig.acceptsTopic = { Topic.isValid($0) } }
        pubsub = PubSubService(host: host, configuration: gossipConfig, logger: logger)
        var storageConfig = configuration.storage
        storageConfig.runsOwnTicker = false
        storageConfig.transfer.maxConcurrentTransfers = configuration.connections.manager.maxConcurrentTransfers
        if !configuration.nodeType.capabilities.storesReplicas { storageConfig.storage.coldCapacity = 0 }
        storage = StorageService(host: host, dht: dht, store: try ContentStore(directory: configuration.contentDirectory),
                                 configuration: storageConfig, logger: logger)
        connections = ConnectionManagerService(host: host, configuration: configuration.connections, logger: logger)
        var syncConfig = configuration.sync
        syncConfig.runsOwnAntiEntropy = false
        sync = DocumentSyncService(host: host, configuration: syncConfig, logger: logger)
        orchestration = OrchestrationService(localPeer: identity.peerID, configuration: configuration.orchestration,
                                             clock: configuration.host.clock, random: configuration.host.random, logger: logger)
        fetchSlots = max(1, configuration.maxConcurrentFetches)
        (events, eventSink) = AsyncStream.makeStream(of: NetworkEvent.self, bufferingPolicy: .bufferingNewest(10_000))
    }

    /// Listens, starts every service, subscribes to `network:announce` and dials the bootstrap peers.
    public func start() async throws {
        guard !started else { return }
        started = true
        guard let (hostName, port) = configuration.listen.tcpEndpoint else {
            throw P2PError.invalidAddress("\(configuration.listen)")
        }
        try await host.listen(host: hostName, port: Int(port))
        await dht.start()
        await pubsub.start()
        await storage.start()
        await connections.start()
        await sync.start()
        await connections.observe { [weak self] event in
            guard let self else { return }
            Task { await self.peerEvent(event) }
        }
        await pubsub.subscribe(Topic.networkAnnounce)
        let deliveries = pubsub.messages
        tasks.append(Task { [weak self] in
            for await message in deliveries { await self?.dispatch(message) }
        })
        for address in configuration.bootstrap {
            guard let peer = address.peerID, peer != peerID else { continue }
            await dht.addPeer(peer, addrs: [address])
            await connections.addPeer(peer, addrs: [address], bootstrap: true)
        }
        if !configuration.bootstrap.isEmpty {
            let dht = self.dht, me = peerID
            tasks.append(Task { [weak self] in
                _ = try? await dht.findNode(me.bytes)  // join: look ourselves up
                await self?.reannounce()
            })
        }
        for fetched in await storage.fetchedContent { await watch(fetched.contentID) }
        await startDiscovery()
        await scheduleMaintenance()
    }

    /// Bound addresses, each ending in `/p2p/<peer id>`.
    public var listenAddresses: [Multiaddr] { host.listenAddresses.map { $0.appending(.p2p(peerID)) } }

    // MARK: content

    /// Publishes a bundle: stores it, provides it in the DHT (libp2p ADD_PROVIDER under the
    /// content id's provider key, ``ContentHash/providerKey(contentID:)`` — SPEC §8.2 —, and a
    /// ``ContentRecord`` signed by this node under `/vivim/record/<contentId>`),
    /// replicates it to `replicationFactor` peers, and publishes a notification on each topic.
    @discardableResult
    public func publish(contentId: String, bytes: [UInt8], contentType: String = "application/vivim-bundle+json",
                        replicationFactor: Int? = nil, expiresIn: Duration? = nil,
                        topics: [String] = [], announcement: [UInt8]? = nil) async throws -> ContentHash {
        guard started else { throw Error.notStarted }
        for t in topics where !Topic.isValid(t) { throw Error.invalidTopic(t) }
        let created = unixNow
        let hash = try await storage.publish(bytes, replicationFactor: replicationFactor, expiresIn: expiresIn, contentID: contentId,
                                             record: .init(contentType: contentType, createdAt: created, topics: topics))
        published[contentId] = hash
        emit(.contentStored(hash))
        var record = ContentRecord(
            contentID: contentId, contentType: contentType, bundleHash: hash,
            metadata: .init(size: UInt64(bytes.count), createdAt: created,
                            expiresAt: expiresIn.map { let (t, o) = created.addingReportingOverflow(UInt64(max(0, $0.components.seconds))); return o ? .max : t },
                            replicationFactor: UInt32(replicationFactor ?? configuration.storage.storage.defaultReplicationFactor)),
            owner: peerID)
        try record.sign(as: identity, addrs: host.listenAddresses, at: created)
        let dht = self.dht, key = record.key, value = record.encoded
        let put = Task { try await dht.putValue(value, for: key) }
        let notice = announcement ?? Self.announcement(contentId: contentId, hash: hash, provider: peerID, size: bytes.count)
        for t in topics { try await pubsub.publish(t, notice) }
        do { try await put.value; count(ok: true) } catch { count(ok: false); throw error }
        return hash
    }

    /// Providers of `contentId`: the signed providers of its DHT record (signatures
    /// checked) followed by peers that announced it with ADD_PROVIDER under its provider key
    /// (SPEC §8.2: the SHA-256 multihash of the content id).
    public func providers(contentId: String) async throws -> [KadMessage.Peer] {
        let record = try await record(of: contentId)
        var out = record.providers.filter(record.verifies).map { KadMessage.Peer(id: $0.peer, addrs: $0.addrs) }
        let announced = (try? await dht.findProviders(ContentHash.providerKey(contentID: contentId), wanted: 20)) ?? []
        for p in announced where !out.contains(where: { $0.id == p.id }) { out.append(p) }
        return out
    }

    /// The signed DHT record of `contentId`.
    public func record(of contentId: String) async throws -> ContentRecord {
        guard started else { throw Error.notStarted }
        do {
            guard let value = try await dht.getValue(ContentRecord.key(for: contentId)) else { throw Error.unknownContent(contentId) }
            let record = try ContentRecord(decoding: value)
            // A record naming an owner must carry that owner's signature: an impostor's record
            // naming someone else (a forged "revoked", another bundle) is not theirs.
            guard record.contentID == contentId, record.isValid(), record.owner == nil || record.isSignedByItsOwner else {
                throw Error.unknownContent(contentId)
            }
            count(ok: true)
            return record
        } catch {
            count(ok: false)
            throw error
        }
    }

    /// The bundle of `contentId`, from the local store or a provider, verified against
    /// its hash (at most ``Configuration/maxConcurrentFetches`` at once).
    /// A copy fetched this way remembers its content id and owner (the record's publisher), so
    /// the owner's signed revocation deletes it; a revoked record is refused (``Error/revoked(_:)``).
    public func fetch(contentId: String) async throws -> [UInt8] {
        if let hash = await ownHash(contentId) { return try await fetch(hash) }
        let record = try await record(of: contentId)
        guard record.status == .active else {
            if await storage.revocationSeen(record) { emit(.contentRevoked(record.bundleHash)) }
            throw Error.revoked(contentId)
        }
        let bytes = try await fetch(record.bundleHash, contentID: contentId, owner: record.publisher)
        if record.publisher != peerID { await watch(contentId) }
        return bytes
    }

    /// The bundle named `hash`, local or fetched (hash-verified) from a provider found in the DHT.
    public func fetch(_ hash: ContentHash) async throws -> [UInt8] {
        try await fetch(hash, contentID: nil, owner: nil)
    }

    private func fetch(_ hash: ContentHash, contentID: String?, owner: PeerID?) async throws -> [UInt8] {
        guard started else { throw Error.notStarted }
        await acquireFetchSlot()
        defer { releaseFetchSlot() }
        do {
            let bytes = try await storage.get(hash, contentID: contentID, owner: owner)
            count(ok: true)
            return bytes
        } catch {
            count(ok: false)
            throw error
        }
    }

    private func ownHash(_ contentId: String) async -> ContentHash? {
        if let hash = published[contentId] { return hash }
        return await storage.ownContent(contentId)
    }

    /// Revokes own content (also after a restart): deletes it here and on every replica holder
    /// (acknowledged, retried), refuses to publish it again, puts its revoked record (signed by
    /// this node) in the DHT and sends a signed revocation notice on `content:<id>`, the topics
    /// it was announced on and `topics`, so that nodes holding fetched copies delete them too.
    public func revoke(contentId: String, topics: [String] = []) async throws {
        guard let hash = await ownHash(contentId) else { throw Error.unknownContent(contentId) }
        await revoke(hash, topics: topics)
    }

    /// Revokes own content by hash (see ``revoke(contentId:topics:)``; the revoked record and
    /// notice go out when the content id is known here).
    public func revoke(_ hash: ContentHash) async { await revoke(hash, topics: []) }

    private func revoke(_ hash: ContentHash, topics: [String]) async {
        let entry = await storage.entry(hash)
        await storage.revoke(hash)
        emit(.contentRevoked(hash))
        guard let entry, entry.origin == .own, let contentID = entry.contentID else { return }
        published[contentID] = nil
        let info = entry.record ?? .init(contentType: "application/vivim-bundle+json", createdAt: unixNow)
        var revoked = ownRecord(contentID, hash, entry, info).revoked(at: unixNow)
        do {
            try revoked.sign(as: identity, addrs: [], at: unixNow)
        } catch {
            logger.warning("revocation not signed", metadata: ["content": "\(contentID)", "error": "\(error)"])
            return
        }
        let dht = self.dht, key = revoked.key, value = revoked.encoded
        let put = Task { try await dht.putValue(value, for: key) }
        let notice = Self.revocationNotice(revoked)
        for topic in Set(topics + info.topics + [Topic.content(contentID)]).sorted() where Topic.isValid(topic) {
            do { try await pubsub.publish(topic, notice) } catch {
                logger.notice("revocation notice not sent", metadata: ["topic": "\(topic)", "error": "\(error)"])
            }
        }
        do { try await put.value } catch {
            logger.notice("revoked record not put", metadata: ["content": "\(contentID)", "error": "\(error)"])
        }
    }

    /// After a restart, once the DHT knows a peer: provides every bundle held, checks and
    /// repairs replicas of own content, and puts each own content's record again, signed now.
    private func reannounce() async {
        guard !reannounced, !stopped, await dht.routingTableSize > 0 else { return }
        reannounced = true
        await storage.announceRestored()
        let addrs = host.listenAddresses, now = unixNow
        for own in await storage.ownRecords where published[own.contentID] == nil || published[own.contentID] == own.hash {
            published[own.contentID] = own.hash
            guard let info = own.entry.record else { continue }
            var record = ownRecord(own.contentID, own.hash, own.entry, info)
            guard (try? record.sign(as: identity, addrs: addrs, at: now)) != nil else { continue }
            let dht = self.dht, key = record.key, value = record.encoded
            tasks.append(Task { _ = try? await dht.putValue(value, for: key) })
        }
    }

    /// Listens on `content:<id>` for the owner's revocation of a fetched copy (bounded).
    /// The (unsigned) DHT record of own content, rebuilt from what the storage index kept.
    private func ownRecord(_ contentID: String, _ hash: ContentHash, _ entry: StorageManager.Entry,
                           _ info: StorageManager.RecordInfo) -> ContentRecord {
        ContentRecord(contentID: contentID, contentType: info.contentType, bundleHash: hash,
                      metadata: .init(size: UInt64(entry.size), createdAt: info.createdAt,
                                      replicationFactor: UInt32(entry.replicationFactor)),
                      owner: peerID)
    }

    private func watch(_ contentID: String) async {
        let topic = Topic.content(contentID)
        guard Topic.isValid(topic), !watched.contains(topic), watched.count < configuration.maxWatchedContentTopics else { return }
        watched.insert(topic)
        await pubsub.subscribe(topic)
    }

    /// A revocation notice (on any topic): if its record is a revocation signed by the owner a
    /// local copy was fetched under, the copy is deleted and tombstoned. Forged ones are ignored.
    private func revocationNotice(_ message: PubSubMessage) async {
        guard message.data.count <= Self.maxNotice, message.data.starts(with: Self.revocationPrefix),
              let notice = try? JSONDecoder().decode(RevocationNotice.self, from: Data(message.data)),
              notice.type == "content.revoked", let bytes = ContentStore.unhex(notice.record),
              let record = try? ContentRecord(decoding: bytes), record.contentID == notice.contentId else { return }
        if await storage.revocationSeen(record) {
            emit(.contentRevoked(record.bundleHash))
            let topic = Topic.content(record.contentID)
            if watched.remove(topic) != nil, subscribers[topic] == nil { await pubsub.unsubscribe(topic) }
        }
    }

    // MARK: pubsub

    /// Subscribes to `topic` (SPEC §8.3 names); the stream ends when the node shuts down.
    public func subscribe(topic: String) async throws -> AsyncStream<PubSubMessage> {
        guard Topic.isValid(topic) else { throw Error.invalidTopic(topic) }
        let (stream, continuation) = AsyncStream.makeStream(of: PubSubMessage.self, bufferingPolicy: .bufferingNewest(10_000))
        nextSubscriber += 1
        let id = nextSubscriber
        if subscribers[topic] == nil { await pubsub.subscribe(topic) }
        subscribers[topic, default: [:]][id] = continuation
        continuation.onTermination = { [weak self] _ in
            Task { await self?.unsubscribe(topic, id) }
        }
        return stream
    }

    /// Publishes `data` on `topic`, signed by this node.
    public func publish(topic: String, _ data: [UInt8]) async throws {
        guard Topic.isValid(topic) else { throw Error.invalidTopic(topic) }
        try await pubsub.publish(topic, data)
    }

    private func unsubscribe(_ topic: String, _ id: UInt64) async {
        subscribers[topic]?[id] = nil
        if subscribers[topic]?.isEmpty == true {
            subscribers[topic] = nil
            if topic != Topic.networkAnnounce && !watched.contains(topic) { await pubsub.unsubscribe(topic) }
        }
    }

    private func dispatch(_ message: PubSubMessage) async {
        for c in (subscribers[message.topic] ?? [:]).values { c.yield(message) }
        if message.data.starts(with: Self.revocationPrefix) { await revocationNotice(message) }
    }

    // MARK: monitor

    public func status() async -> Status {
        let samples = await connections.latencySamples.map(Self.milliseconds).sorted()
        let latency = Status.Latency(
            avg: samples.isEmpty ? 0 : samples.reduce(0, +) / Double(samples.count),
            p50: Self.percentile(samples, 0.5), p99: Self.percentile(samples, 0.99))
        let connected = await connections.connectedPeers
        let dialFailures = await connections.dialFailures
        let attempts = operations + dialFailures + connected
        let errorRate = attempts == 0 ? 0 : Double(failures + dialFailures) / Double(attempts)
        let listening = !host.listenAddresses.isEmpty && started && !stopped
        let knowsPeers = !(await connections.peers.isEmpty)
        let health: Status.Health
        if !listening || (connected == 0 && !configuration.bootstrap.isEmpty) {
            health = .unhealthy
        } else if errorRate > 0.1 || latency.p99 > 500 || (connected == 0 && knowsPeers) {
            health = .degraded
        } else {
            health = .healthy
        }
        let known = await dht.routingTableSize
        let contentCount = await storage.contentCount
        return Status(status: health, nodeCount: known + 1, activeConnections: connected,
                      contentCount: contentCount, latency: latency, errorRate: errorRate)
    }

    private func monitor() async {
        guard !stopped else { return }
        if !reannounced { await reannounce() }
        let current = await status()
        if current.status != .healthy && current.status != lastHealth { emit(.alert(.degraded(current.status))) }
        lastHealth = current.status
        for (peer, p) in await connections.peers where !p.connected && p.metrics.connects > 0 && p.attempts >= 2 {
            if alertedDown.insert(peer).inserted { emit(.alert(.nodeDown(peer))) }
        }
        for hash in Set(published.values) {
            guard let entry = await storage.entry(hash), entry.replicationFactor > 0 else { continue }
            if entry.replicas.isEmpty && entry.pending.isEmpty {
                if alertedUnreachable.insert(hash).inserted { emit(.alert(.contentUnreachable(hash))) }
            } else {
                alertedUnreachable.remove(hash)
            }
        }
    }

    /// Registers the node's periodic work with the orchestrator's task scheduler (SPEC §8.7:
    /// replication and repair, expiry and eviction, DHT maintenance, CRDT anti-entropy,
    /// health checks) and routes fetches and replica placement through its topology.
    /// Gossipsub's heartbeat and the connection manager's redials stay protocol timers.
    private func scheduleMaintenance() async {
        let storage = self.storage, dht = self.dht, sync = self.sync, connections = self.connections
        let orchestration = self.orchestration
        await storage.setRouting(StorageService.Routing(
            rank: { await orchestration.rank(providers: $0) },
            report: { await orchestration.record($0) },
            targets: { key, candidates, count in
                await orchestration.replicationTargets(for: key, candidates: candidates, count: count)
            }))
        await orchestration.register(.dhtMaintenance, priority: .high, every: configuration.dht.tickInterval, jitter: 0) {
            await dht.tick()
        }
        // Replication and repair, expiry, LRU eviction, deletion retries and revocation checks
        // are one pass of the storage manager.
        await orchestration.register(.replication, priority: .high, every: configuration.storage.tickInterval) {
            await storage.tick()
        }
        await orchestration.register(.custom("dht-self-lookup"), every: configuration.selfLookupInterval) { [weak self] in
            await self?.selfLookupIfSparse()
        }
        await orchestration.register(.crdtSync, every: configuration.sync.antiEntropyInterval) {
            await sync.antiEntropy()
        }
        await orchestration.register(.healthCheck, priority: .critical, every: configuration.monitorInterval) { [weak self] in
            await orchestration.ingest(await connections.peers)
            await self?.monitor()
        }
        await orchestration.start()
    }

    /// Looks this node up again while its routing table is below k peers, backing off while
    /// that finds no one new (Kademlia's join is one self-lookup; nodes joining together
    /// through one seed would otherwise meet only at the next bucket refresh).
    private func selfLookupIfSparse() async {
        let before = await dht.routingTableSize
        guard before > 0, before < configuration.dht.kademlia.k else { return }
        selfLookupSkipped += 1
        guard selfLookupSkipped >= selfLookupEvery else { return }
        selfLookupSkipped = 0
        _ = try? await dht.findNode(peerID.bytes)
        selfLookupEvery = await dht.routingTableSize > before ? 1 : min(selfLookupEvery * 2, 150)
    }

    private func peerEvent(_ event: ConnectionManagerService.PeerEvent) {
        let orchestration = self.orchestration, host = self.host
        Task {
            await orchestration.observe(event)
            // The peer's node type (in its identify agent version) tells the topology what it offers.
            guard case .connected(let peer) = event, let connection = host.connections(to: peer).first,
                  let info = try? await connection.identify(),
                  let type = Self.nodeType(fromAgentVersion: info.agentVersion) else { return }
            await orchestration.observe(.identified(peer, type, addrs: info.listenAddrs))
        }
        switch event {
        case .connected(let p):
            alertedDown.remove(p)
            emit(.peerJoined(p))
        case .disconnected(let p): emit(.peerLeft(p))
        }
    }

    private func emit(_ event: NetworkEvent) { eventSink.yield(event) }

    private func count(ok: Bool) {
        operations += 1
        if !ok { failures += 1 }
        if operations > 10_000 { operations /= 2; failures /= 2 }  // a decaying window
    }

    private func acquireFetchSlot() async {
        for _ in 0..<1_000_000 where fetchSlots == 0 {
            await withCheckedContinuation { fetchWaiters.append($0) }
        }
        fetchSlots -= 1
    }

    private func releaseFetchSlot() {
        fetchSlots += 1
        if !fetchWaiters.isEmpty { fetchWaiters.removeFirst().resume() }
    }

    /// Stops every service and closes all connections; subscriptions and `events` end.
    public func shutdown() async {
        guard !stopped else { return }
        stopped = true
        for t in tasks { t.cancel() }
        tasks = []
        await orchestration.stop()
        await stopDiscovery()
        await sync.stop()
        await connections.stop()
        await storage.stop()
        await pubsub.stop()
        await dht.stop()
        await host.shutdown()
        for subs in subscribers.values { for c in subs.values { c.finish() } }
        subscribers = [:]
        for w in fetchWaiters { w.resume() }
        fetchWaiters = []
        eventSink.finish()
    }

    // MARK: helpers

    /// The identify agent version names the node type: `vivim/0.1.0 (STORAGE)`.
    static func agentVersion(_ base: String, _ type: NodeType) -> String {
        base.hasSuffix(")") ? base : "\(base) (\(type.rawValue))"
    }

    /// The node type a VIVIM peer declared in its agent version, nil for anything else.
    static func nodeType(fromAgentVersion agent: String?) -> NodeType? {
        guard let agent, agent.hasPrefix("vivim/"), agent.hasSuffix(")"),
              let open = agent.lastIndex(of: "(") else { return nil }
        return NodeType(rawValue: String(agent[agent.index(after: open)..<agent.index(before: agent.endIndex)]))
    }

    /// Wall-clock seconds from the node's one clock (record timestamps).
    private var unixNow: UInt64 { host.configuration.clock.unixSeconds }

    static func milliseconds(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))]
    }

    static let maxNotice = 64 * 1024
    static let revocationPrefix = Array("{\"type\":\"content.revoked\"".utf8)

    /// What a revocation notice carries: `{type: "content.revoked", contentId, bundleHash, owner,
    /// record}`, `record` being the hex of the revoked ``ContentRecord`` signed by the owner —
    /// verifiable by any holder whatever the topic or the relaying peers.
    struct RevocationNotice: Codable {
        var type: String
        var contentId: String
        var bundleHash: String
        var owner: String
        var record: String
    }

    static func revocationNotice(_ record: ContentRecord) -> [UInt8] {
        func quoted(_ s: String) -> String {
            "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        return Array("{\"type\":\"content.revoked\",\"contentId\":\(quoted(record.contentID)),\"bundleHash\":\(quoted(record.bundleHash.description)),\"owner\":\(quoted(record.owner?.description ?? "")),\"record\":\"\(hex(record.encoded))\"}".utf8)
    }

    /// The default notification: a small JSON object (the gossip message itself is signed).
    static func announcement(contentId: String, hash: ContentHash, provider: PeerID, size: Int) -> [UInt8] {
        func quoted(_ s: String) -> String {
            "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        return Array("{\"type\":\"content.published\",\"contentId\":\(quoted(contentId)),\"bundleHash\":\(quoted(hash.description)),\"provider\":\(quoted(provider.description)),\"size\":\(size)}".utf8)
    }
}

/// VIVIM topic names (SPEC §8.3).
public enum Topic {
    public static let networkAnnounce = "network:announce"
    public static let discoveryProviders = "discovery:providers"
    public static func user(_ did: String) -> String { "user:" + did }
    public static func circle(_ id: String) -> String { "circle:" + id }
    public static func content(_ id: String) -> String { "content:" + id }

    /// `network:announce`, `discovery:providers`, or `user:` / `circle:` / `content:` followed by
    /// 1–256 printable ASCII characters.
    public static func isValid(_ topic: String) -> Bool {
        if topic == networkAnnounce || topic == discoveryProviders { return true }
        for prefix in ["user:", "circle:", "content:"] where topic.hasPrefix(prefix) {
            let rest = topic.utf8.dropFirst(prefix.utf8.count)
            return !rest.isEmpty && rest.count <= 256 && rest.allSatisfy { $0 > 0x20 && $0 < 0x7F }
        }
        return false
    }
}

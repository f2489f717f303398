import Logging
import NIOCore

/// The I/O shell of ``KademliaNode`` on a ``P2PHost``: serves `/ipfs/kad/1.0.0`
/// streams, sends the node's requests over (new or existing) connections,
/// feeds answers and failures back, and ticks the node's timers. All DHT logic
/// stays in the Sans-IO node; this actor only owns tasks, streams and the clock.
public actor DHTService {
    public struct Configuration: Sendable {
        public var kademlia = KademliaNode.Configuration()
        /// How often ``KademliaNode/tick(now:rng:)`` runs (timeouts, expiry, republish, refresh).
        public var tickInterval: Duration = .seconds(1)
        /// False when an orchestrator calls ``tick()`` on its own schedule (``VivimNode`` does).
        public var runsOwnTicker = true
        /// Requests one inbound kad stream may carry before it is closed.
        public var maxRequestsPerStream = 64
        /// Peers remembered as already identified (their listen addresses learned).
        public var maxIdentifiedPeers = 4096
        public init() {}
    }

    public enum Error: Swift.Error, Sendable { case shutDown }

    private let host: P2PHost
    private let configuration: Configuration
    private var node: KademliaNode
    private var waiters: [KademliaNode.QueryID: CheckedContinuation<KademliaNode.QueryResult, any Swift.Error>] = [:]
    private var finished: [KademliaNode.QueryID: KademliaNode.QueryResult] = [:]
    private var tasks: [UInt64: Task<Void, Never>] = [:]
    private var nextTask: UInt64 = 0
    private var ticker: Task<Void, Never>?
    private var rng: NetworkRandom.Generator
    private var identified: Set<PeerID> = []
    private let logger: Logger

    public init(host: P2PHost, configuration: Configuration = .init(), logger: Logger = Logger(label: "vivim.dht")) {
        self.host = host
        self.configuration = configuration
        self.rng = host.configuration.random.generator
        self.node = KademliaNode(localPeer: host.peerID, localAddrs: host.listenAddresses, configuration: configuration.kademlia)
        self.logger = logger
    }

    private var now: NetworkInstant { host.configuration.clock.now }

    /// Registers the protocol handler and starts the timer loop.
    public func start() {
        let tickInterval = configuration.tickInterval
        host.handle(KadMessage.protocolID) { [weak self] stream in
            try await self?.serve(stream)
        }
        guard configuration.runsOwnTicker else { return }
        ticker = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: tickInterval)
                await self?.tick()
            }
        }
    }

    public func stop() {
        ticker?.cancel()
        for t in tasks.values { t.cancel() }
        tasks = [:]
        for (_, w) in waiters { w.resume(throwing: Error.shutDown) }
        waiters = [:]
    }

    /// Runs the node's timers: request timeouts, record expiry, republish, bucket refresh.
    public func tick() {
        node.localAddrs = host.listenAddresses
        execute(node.tick(now: now, rng: &rng))
    }

    /// Adds a known peer (e.g. a bootstrap node) with its addresses.
    public func addPeer(_ peer: PeerID, addrs: [Multiaddr]) {
        node.addPeer(peer, addrs: addrs.map(\.withoutPeerID), now: now)
    }

    public var routingTableSize: Int { node.routingTable.count }
    /// Known dialable addresses of a peer in the routing table.
    public func addresses(of peer: PeerID) -> [Multiaddr] { node.routingTable.addresses(of: peer) }
    public func providers(storedFor key: [UInt8]) -> [PeerID] { node.localProviders(for: key) }
    /// The value this node holds under `key` (its own, or stored for a peer).
    public func value(storedFor key: [UInt8]) -> [UInt8]? { node.localRecord(for: key)?.value }

    // MARK: queries

    public func findNode(_ key: [UInt8]) async throws -> KademliaNode.QueryResult {
        try await run(.findNode, key: key)
    }

    /// Announces this node as a provider of `key` to the k closest peers.
    public func provide(_ key: [UInt8]) async throws -> KademliaNode.QueryResult {
        try await run(.provide, key: key)
    }

    public func findProviders(_ key: [UInt8], wanted: Int = 1) async throws -> [KadMessage.Peer] {
        try await run(.getProviders(wanted: wanted), key: key).providers
    }

    public func putValue(_ value: [UInt8], for key: [UInt8]) async throws {
        _ = try await run(.putValue(KadMessage.Record(key: key, value: value)), key: key)
    }

    public func getValue(_ key: [UInt8]) async throws -> [UInt8]? {
        try await run(.getValue, key: key).value?.value
    }

    private func run(_ kind: KademliaNode.QueryKind, key: [UInt8]) async throws -> KademliaNode.QueryResult {
        node.localAddrs = host.listenAddresses
        let (qid, actions) = node.startQuery(kind, key: key, now: now)
        execute(actions)
        if let done = finished.removeValue(forKey: qid) { return done }
        return try await withCheckedThrowingContinuation { waiters[qid] = $0 }
    }

    // MARK: executing actions

    private func execute(_ actions: [KademliaNode.Action]) {
        for action in actions {
            switch action {
            case .request(let rid, let peer, let addrs, let message):
                spawn { [weak self] in
                    let answer = try? await Self.exchange(host: self?.host, peer: peer, addrs: addrs, message: message, expectResponse: true)
                    await self?.complete(rid, answer?.response, reachedAt: answer?.dialed)
                }
            case .send(let peer, let addrs, let message):
                spawn { [weak self] in
                    _ = try? await Self.exchange(host: self?.host, peer: peer, addrs: addrs, message: message, expectResponse: false)
                }
            case .queryFinished(let qid, let result):
                if let waiter = waiters.removeValue(forKey: qid) {
                    waiter.resume(returning: result)
                } else {
                    finished[qid] = result
                }
            }
        }
    }

    private func complete(_ rid: KademliaNode.RequestID, _ response: KadMessage?, reachedAt: Multiaddr?) {
        if let response {
            execute(node.handleResponse(rid, response, reachedAt: reachedAt, now: now))
        } else {
            execute(node.handleFailure(rid, now: now))
        }
    }

    private func spawn(_ body: @escaping @Sendable () async -> Void) {
        nextTask += 1
        let id = nextTask
        tasks[id] = Task { [weak self] in
            await body()
            await self?.finishTask(id)
        }
    }

    private func finishTask(_ id: UInt64) { tasks[id] = nil }

    /// One request (and optionally its response) on a fresh kad stream; `dialed` is the
    /// address a new connection was made to (the dial verified the peer id over Noise).
    private static func exchange(host: P2PHost?, peer: PeerID, addrs: [Multiaddr], message: KadMessage,
                                 expectResponse: Bool) async throws -> (response: KadMessage?, dialed: Multiaddr?) {
        guard let host else { throw Error.shutDown }
        let connection: P2PConnection
        var dialed: Multiaddr?
        if let existing = host.connections(to: peer).first {
            connection = existing
        } else {
            guard let addr = addrs.first(where: { $0.tcpEndpoint != nil }) else { throw P2PError.invalidAddress("no address for \(peer)") }
            connection = try await host.dial(addr.withoutPeerID.appending(.p2p(peer)))
            dialed = addr.withoutPeerID
        }
        let stream = try await connection.openStream(KadMessage.protocolID)
        do {
            try await stream.write(VarintFrame.encode(message.encoded))
            guard expectResponse else {
                stream.close()
                return (nil, dialed)
            }
            var reader = StreamReader(stream)
            guard let frame = try await reader.readFrame(maxLength: KadMessage.maxLength) else { throw P2PError.unexpectedEOF }
            stream.close()
            return (try Self.checked(KadMessage(decoding: frame), answering: message), dialed)
        } catch {
            stream.reset()
            throw error
        }
    }

    private static func checked(_ response: KadMessage, answering message: KadMessage) throws -> KadMessage {
        guard response.type == message.type else { throw P2PError.protocolError("kad response type mismatch") }
        return response
    }

    // MARK: serving

    private func serve(_ stream: P2PStream) async throws {
        let sender = stream.connection.remotePeer
        if !identified.contains(sender) {
            // Bounded: forgetting only means identifying a peer once more.
            if identified.count >= configuration.maxIdentifiedPeers { identified.removeAll(keepingCapacity: true) }
            identified.insert(sender)
            let connection = stream.connection
            spawn { [weak self] in
                // Learn the sender's listen addresses so it can be handed to other peers.
                if let info = try? await connection.identify() { await self?.addPeer(sender, addrs: info.listenAddrs) }
            }
        }
        var reader = StreamReader(stream)
        for _ in 0..<configuration.maxRequestsPerStream {
            guard let frame = try await reader.readFrame(maxLength: KadMessage.maxLength) else { break }
            let request = try KadMessage(decoding: frame)
            if let response = node.handleRequest(from: sender, request, now: now) {
                try await stream.write(VarintFrame.encode(response.encoded))
            } else if request.type != .addProvider {
                // Refused (a key over the limits, an invalid record or namespace): say so at
                // once rather than leave the requester waiting for its timeout.
                stream.reset()
                return
            }
        }
        stream.closeWrite()
    }
}

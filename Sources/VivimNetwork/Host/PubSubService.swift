import Crypto
import Logging
import Synchronization

/// The I/O shell of ``GossipsubRouter`` on a ``P2PHost``: one outbound
/// `/meshsub/1.1.0` stream per peer for sending (RPCs queue per peer and one
/// writer at a time flushes the whole queue in a single write, so they keep
/// their order and bursts are batched), inbound streams read for RPCs, a
/// heartbeat timer, and an `AsyncStream` of delivered messages.
public actor PubSubService {
    public struct Delivery: Sendable {
        public let topic: String
        public let data: [UInt8]
        public let author: PeerID
    }

    private let host: P2PHost
    private var router: GossipsubRouter
    private var rng: NetworkRandom.Generator
    private struct Outbound {
        let stream: P2PStream
        var queued: [UInt8] = []
        /// RPCs in `queued`.
        var count = 0
        var flushing = false
    }
    private var writers: [PeerID: Outbound] = [:]
    private var connecting: Set<PeerID> = []
    private var tasks: [Task<Void, Never>] = []
    private let deliveries: AsyncStream<Delivery>.Continuation
    /// Every message delivered on a subscribed topic, in arrival order.
    public nonisolated let messages: AsyncStream<Delivery>
    private let logger: Logger

    /// Signatures verified by the reading tasks, off the actor (see ``readLoop(_:)``).
    private nonisolated let verified: VerifiedMessages

    public init(host: P2PHost, configuration: GossipsubRouter.Configuration = .init(), logger: Logger = Logger(label: "vivim.pubsub")) {
        self.host = host
        self.rng = host.configuration.random.generator
        let verified = VerifiedMessages(capacity: configuration.maxVerifiedMessages,
                                        invalidCapacity: configuration.maxInvalidMessages, ttl: configuration.seenTTL)
        self.verified = verified
        // A random 62-bit start keeps (author, seqno) unique across restarts.
        self.router = GossipsubRouter(identity: host.identity, configuration: configuration,
                                      initialSeqno: UInt64.random(in: 1..<(1 << 62)),
                                      validator: { verified.validate($0) })
        (messages, deliveries) = AsyncStream.makeStream(of: Delivery.self, bufferingPolicy: .bufferingNewest(10_000))
        self.logger = logger
    }

    private var now: NetworkInstant { host.configuration.clock.now }

    public func start() {
        host.handle(PubSubRPC.protocolID) { [weak self] stream in
            try await self?.readLoop(stream)
        }
        host.observeConnections { [weak self] event in
            guard let self else { return }
            Task {
                switch event {
                case .connected(let c): await self.connect(c)
                case .disconnected(let c): await self.disconnected(c.remotePeer)
                }
            }
        }
        let interval = router.configuration.heartbeatInterval
        tasks.append(Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                await self?.heartbeat()
            }
        })
    }

    public func stop() {
        for t in tasks { t.cancel() }
        tasks = []
        for w in writers.values { w.stream.reset() }
        writers = [:]
        deliveries.finish()
    }

    public func subscribe(_ topic: String) {
        execute(router.subscribe(topic, now: now, rng: &rng))
    }

    public func unsubscribe(_ topic: String) {
        execute(router.unsubscribe(topic, now: now))
    }

    @discardableResult
    public func publish(_ topic: String, _ data: [UInt8]) throws -> [UInt8] {
        let (id, actions) = try router.publish(topic, data: data, now: now, rng: &rng)
        execute(actions)
        return id
    }

    /// Peers this node knows to speak gossipsub, and the mesh of a topic.
    public var peers: [PeerID] { router.knownPeers }
    public func mesh(_ topic: String) -> Set<PeerID> { router.mesh[topic] ?? [] }
    /// Peers that announced a subscription to `topic`.
    public func peers(subscribedTo topic: String) -> Set<PeerID> { router.peers(subscribedTo: topic) }
    /// How much state the router holds (what the configured bounds apply to).
    public var stateSize: GossipsubRouter.StateSize { router.stateSize }
    /// Signature outcomes remembered: (valid, invalid).
    public nonisolated var verifiedCounts: (valid: Int, invalid: Int) { verified.counts }

    private func heartbeat() { execute(router.heartbeat(now: now, rng: &rng)) }

    private func execute(_ actions: [GossipsubRouter.Action]) {
        for action in actions {
            switch action {
            case .send(let peer, let rpc):
                enqueue(VarintFrame.encode(rpc.encoded), to: peer)
            case .deliver(let message, let author):
                deliveries.yield(Delivery(topic: message.topic, data: message.data, author: author))
            }
        }
    }

    /// Queues an RPC for `peer`. A peer whose queue would pass `maxQueuedRPCsPerPeer` or
    /// `maxQueuedBytesPerPeer` cannot keep up: it is dropped from gossipsub (stream reset,
    /// router state removed, so it leaves every mesh) rather than growing memory.
    private func enqueue(_ frame: [UInt8], to peer: PeerID) {
        guard let w = writers[peer] else { return }
        let c = router.configuration
        guard w.count < c.maxQueuedRPCsPerPeer, w.queued.count + frame.count <= c.maxQueuedBytesPerPeer else {
            logger.info("pubsub: dropping a peer that cannot keep up", metadata: ["peer": "\(peer)"])
            dropWriter(peer)
            return
        }
        // Appended in place (the dictionary's modify accessor): copying the writer out and
        // back would copy the whole queue on every RPC, quadratic in a burst.
        writers[peer]!.queued.append(contentsOf: frame)
        writers[peer]!.count += 1
        let start = !writers[peer]!.flushing
        writers[peer]!.flushing = true
        if start {
            // Ends by itself once the queue is empty or the writer is gone.
            Task { [weak self] in await self?.flush(peer) }
        }
    }

    /// Writes everything queued for `peer`, batch by batch, until the queue is empty.
    private func flush(_ peer: PeerID) async {
        while let w = writers[peer], !w.queued.isEmpty {
            writers[peer]?.queued = []
            writers[peer]?.count = 0
            do {
                try await w.stream.write(w.queued)
            } catch {
                dropWriter(peer)
                return
            }
        }
        writers[peer]?.flushing = false
    }

    private func dropWriter(_ peer: PeerID) {
        writers.removeValue(forKey: peer)?.stream.reset()
        router.removePeer(peer)
    }

    /// Opens our sending stream to a newly connected peer, if it speaks gossipsub.
    private func connect(_ connection: P2PConnection) async {
        let peer = connection.remotePeer
        guard writers[peer] == nil, connecting.insert(peer).inserted else { return }
        defer { connecting.remove(peer) }
        guard let stream = try? await connection.openStream(PubSubRPC.protocolID) else { return }
        writers[peer] = Outbound(stream: stream)
        execute(router.addPeer(peer))
    }

    private func disconnected(_ peer: PeerID) {
        guard host.connections(to: peer).isEmpty else { return }
        dropWriter(peer)
    }

    /// RPCs of one peer whose signatures may be checked at once, ahead of the router.
    static let verificationWindow = 4

    /// Reads one peer's RPCs until the stream closes. Decoding and Ed25519 verification
    /// (the expensive part, ~50–90 µs a message) run off the actor: each RPC is verified
    /// in its own task, up to ``verificationWindow`` RPCs ahead of the one the router is
    /// handling, so verification uses every core and overlaps routing; each task hands
    /// its RPC to the actor only after its predecessor did, so RPCs keep their order.
    /// The router then finds each message already verified (duplicates are verified
    /// once, by content).
    private nonisolated func readLoop(_ stream: P2PStream) async throws {
        let peer = stream.connection.remotePeer
        await connectIfNeeded(stream.connection)
        var reader = StreamReader(stream)
        var inFlight: [Task<Void, Never>] = []
        for _ in 0..<Int.max {
            guard let frame = try await reader.readFrame(maxLength: PubSubRPC.maxLength) else { break }
            let rpc = try PubSubRPC(decoding: frame)
            let previous = inFlight.last, verified = self.verified
            inFlight.append(Task { [weak self] in
                await verified.verify(rpc.messages)
                await previous?.value
                await self?.received(rpc, from: peer)
            })
            if inFlight.count > Self.verificationWindow { await inFlight.removeFirst().value }
        }
        await inFlight.last?.value
    }

    private func connectIfNeeded(_ connection: P2PConnection) async {
        if writers[connection.remotePeer] == nil { await connect(connection) }
    }

    private func received(_ rpc: PubSubRPC, from peer: PeerID) {
        execute(router.handle(rpc, from: peer, now: now))
    }
}

/// Outcomes of StrictSign checks made by the reading tasks, keyed by the SHA-256 of the
/// message's encoding (so a forged copy with a known id is never taken for the genuine one,
/// and no payload is kept): valid messages with their author, and a smaller negative cache
/// of invalid ones so a forged message is not verified twice. Each is two generations of at
/// most `capacity` entries, a generation lasting at most `ttl / 2`: bounded in count (and so
/// in bytes, ~100 bytes an entry) and expiring by time.
final class VerifiedMessages: Sendable {
    /// The author of a message whose signature verified, or `.invalid`.
    enum Outcome: Equatable, Sendable {
        case valid(PeerID)
        case invalid
    }
    private struct Generations<Value: Sendable>: Sendable {
        var current: [Digest: Value] = [:]
        var previous: [Digest: Value] = [:]
        var started: ContinuousClock.Instant
        let capacity: Int

        func value(_ key: Digest) -> Value? { current[key] ?? previous[key] }

        mutating func insert(_ key: Digest, _ value: Value, now: ContinuousClock.Instant, ttl: Duration) {
            rotateIfStale(now: now, ttl: ttl)
            if current.count >= capacity {
                previous = current
                current = [:]
                started = now
            }
            current[key] = value
        }

        /// Forgets generations older than the TTL, so an entry lives at most `ttl`.
        mutating func rotateIfStale(now: ContinuousClock.Instant, ttl: Duration) {
            let age = now - started
            guard age >= ttl / 2 else { return }
            previous = age >= ttl ? [:] : current
            current = [:]
            started = now
        }
    }
    private struct State: Sendable {
        var valid: Generations<PeerID>
        var invalid: Generations<Bool>
    }
    private let state: Mutex<State>
    private let ttl: Duration

    init(capacity: Int = 1 << 15, invalidCapacity: Int = 4_096, ttl: Duration = .seconds(120)) {
        let now = ContinuousClock.now
        state = Mutex(State(valid: .init(started: now, capacity: max(1, capacity)),
                            invalid: .init(started: now, capacity: max(1, invalidCapacity))))
        self.ttl = ttl
    }

    /// SHA-256 of a message's encoding, as four words.
    private struct Digest: Hashable, Sendable {
        let words: (UInt64, UInt64, UInt64, UInt64)
        init(_ message: PubSubRPC.Message) {
            var w: [UInt64] = [0, 0, 0, 0]
            for (i, byte) in SHA256.hash(data: message.encoded).enumerated() { w[i / 8] = w[i / 8] << 8 | UInt64(byte) }
            words = (w[0], w[1], w[2], w[3])
        }
        static func == (a: Digest, b: Digest) -> Bool { a.words == b.words }
        func hash(into hasher: inout Hasher) {
            hasher.combine(words.0); hasher.combine(words.1); hasher.combine(words.2); hasher.combine(words.3)
        }
    }

    private static func key(_ message: PubSubRPC.Message) -> Digest { Digest(message) }

    /// Entries remembered: (valid, invalid).
    var counts: (valid: Int, invalid: Int) {
        state.withLock { s in
            (s.valid.current.count + s.valid.previous.count, s.invalid.current.count + s.invalid.previous.count)
        }
    }

    /// The remembered outcome of checking exactly this message, if it was checked.
    func outcome(of message: PubSubRPC.Message) -> Outcome? {
        outcome(key: Self.key(message))
    }

    private func outcome(key: Digest) -> Outcome? {
        let now = ContinuousClock.now, ttl = ttl
        return state.withLock { s in
            s.valid.rotateIfStale(now: now, ttl: ttl)
            s.invalid.rotateIfStale(now: now, ttl: ttl)
            if let author = s.valid.value(key) { return .valid(author) }
            return s.invalid.value(key) != nil ? .invalid : nil
        }
    }

    func author(of message: PubSubRPC.Message) -> PeerID? {
        if case .valid(let author) = outcome(of: message) { author } else { nil }
    }

    /// The router's validator: the remembered outcome, or a StrictSign check now.
    func validate(_ message: PubSubRPC.Message) -> PeerID? {
        switch outcome(of: message) {
        case .valid(let author): author
        case .invalid: nil
        case nil: message.verifiedAuthor()
        }
    }

    private func insert(_ key: Digest, _ outcome: Outcome) {
        let now = ContinuousClock.now, ttl = ttl
        state.withLock { s in
            switch outcome {
            case .valid(let author): s.valid.insert(key, author, now: now, ttl: ttl)
            case .invalid: s.invalid.insert(key, true, now: now, ttl: ttl)
            }
        }
    }

    /// Verifies the messages not checked before; large batches are split across tasks.
    func verify(_ messages: [PubSubRPC.Message]) async {
        let todo = messages.map { (Self.key($0), $0) }.filter { outcome(key: $0.0) == nil }
        guard !todo.isEmpty else { return }
        let parts = todo.count >= 32 ? 2 : 1
        let size = (todo.count + parts - 1) / parts
        await withTaskGroup(of: Void.self) { group in
            for start in stride(from: 0, to: todo.count, by: size) {
                let slice = todo[start..<min(start + size, todo.count)]
                group.addTask {
                    for (key, m) in slice { self.insert(key, m.verifiedAuthor().map(Outcome.valid) ?? .invalid) }
                }
            }
        }
    }
}

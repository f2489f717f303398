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
        var flushing = false
    }
    private var writers: [PeerID: Outbound] = [:]
    /// Unsent bytes per peer beyond which RPCs to that peer are dropped (a stalled peer must not grow memory).
    private let maxQueuedBytes = 8 << 20
    private var connecting: Set<PeerID> = []
    private var tasks: [Task<Void, Never>] = []
    private let deliveries: AsyncStream<Delivery>.Continuation
    /// Every message delivered on a subscribed topic, in arrival order.
    public nonisolated let messages: AsyncStream<Delivery>
    private let logger: Logger

    /// Signatures verified by the reading tasks, off the actor (see ``readLoop(_:)``).
    private nonisolated let verified = VerifiedMessages()

    public init(host: P2PHost, configuration: GossipsubRouter.Configuration = .init(), logger: Logger = Logger(label: "vivim.pubsub")) {
        self.host = host
        self.rng = host.configuration.random.generator
        // A random 62-bit start keeps (author, seqno) unique across restarts.
        let verified = self.verified
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

    private func enqueue(_ frame: [UInt8], to peer: PeerID) {
        guard let queued = writers[peer]?.queued.count, queued + frame.count <= maxQueuedBytes else { return }
        // Appended in place (the dictionary's modify accessor): copying the writer out and
        // back would copy the whole queue on every RPC, quadratic in a burst.
        writers[peer]!.queued.append(contentsOf: frame)
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

/// Messages whose StrictSign signature was checked, keyed by their full content (so a
/// forged copy with a known id is never taken for the genuine one), with the outcome:
/// a failed check is remembered too, so an invalid message is not verified again on
/// the actor. Two generations of at most `capacity` entries bound the memory.
final class VerifiedMessages: Sendable {
    /// The author of a message whose signature verified, or `.invalid`.
    enum Outcome: Equatable, Sendable {
        case valid(PeerID)
        case invalid
    }
    private struct Key: Hashable, Sendable {
        let message: PubSubRPC.Message
        /// The signature's bytes in one call (an array's own hash mixes byte by byte);
        /// equality still compares the whole message.
        func hash(into hasher: inout Hasher) {
            message.signature?.withUnsafeBytes { hasher.combine(bytes: $0) }
            message.seqno.withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }
    private struct Generations: Sendable {
        var current: [Key: Outcome] = [:]
        var previous: [Key: Outcome] = [:]
    }
    private let state = Mutex(Generations())
    private let capacity: Int

    init(capacity: Int = 1 << 15) { self.capacity = capacity }

    /// The remembered outcome of checking exactly this message, if it was checked.
    func outcome(of message: PubSubRPC.Message) -> Outcome? {
        let key = Key(message: message)
        return state.withLock { $0.current[key] ?? $0.previous[key] }
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

    private func insert(_ message: PubSubRPC.Message, _ outcome: Outcome) {
        state.withLock { s in
            if s.current.count >= capacity {
                s.previous = s.current
                s.current = [:]
            }
            s.current[Key(message: message)] = outcome
        }
    }

    /// Verifies the messages not checked before; large batches are split across tasks.
    func verify(_ messages: [PubSubRPC.Message]) async {
        let todo = messages.filter { outcome(of: $0) == nil }
        guard !todo.isEmpty else { return }
        let parts = todo.count >= 32 ? 2 : 1
        let size = (todo.count + parts - 1) / parts
        await withTaskGroup(of: Void.self) { group in
            for start in stride(from: 0, to: todo.count, by: size) {
                let slice = todo[start..<min(start + size, todo.count)]
                group.addTask {
                    for m in slice { self.insert(m, m.verifiedAuthor().map(Outcome.valid) ?? .invalid) }
                }
            }
        }
    }
}

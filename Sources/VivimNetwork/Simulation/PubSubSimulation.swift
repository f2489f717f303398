import Synchronization

/// A deterministic in-process gossipsub network: N ``GossipsubRouter``s on a
/// random connection graph, with a simulated clock, seeded randomness,
/// per-link latency and killed nodes. Measures delivery of published messages.
public struct PubSubSimulation: Sendable {
    public struct Configuration: Sendable {
        public var nodeCount = 1000
        /// Each node dials this many random others (so the mean degree is about twice it).
        public var connectionsPerNode = 8
        public var seed: UInt64 = 1
        public var router = GossipsubRouter.Configuration()
        public var latencyMilliseconds: ClosedRange<UInt64> = 5...80
        public var topic = "network:announce"
        public init() {}
    }

    enum Event: Sendable {
        case rpc(from: Int, to: Int, PubSubRPC)
        case heartbeat(Int)
    }

    public let configuration: Configuration
    private var routers: [GossipsubRouter] = []
    public private(set) var peers: [PeerID] = []
    private var index: [PeerID: Int] = [:]
    private var neighbours: [Set<Int>] = []
    public private(set) var alive: [Bool] = []
    public private(set) var now = NetworkInstant.zero
    private var queue = EventQueue<Event>()
    private var rng: SplitMix64
    /// Message id → nodes that delivered it to their application.
    private var deliveries: [HashedBytes: Set<Int>] = [:]
    public private(set) var rpcsSent = 0
    private let memo = SignatureMemo()

    public init(configuration: Configuration) throws {
        self.configuration = configuration
        rng = SplitMix64(seed: configuration.seed)
        let n = configuration.nodeCount
        for i in 0..<n {
            var seed = [UInt8](repeating: 0, count: 32)
            for j in stride(from: 0, to: 32, by: 8) {
                let r = rng.next()
                for b in 0..<8 { seed[j + b] = UInt8(truncatingIfNeeded: r >> UInt64(8 * b)) }
            }
            let identity = try PeerKeyPair(seed: seed)
            routers.append(GossipsubRouter(identity: identity, configuration: configuration.router, validator: memo.validate))
            peers.append(identity.peerID)
            index[identity.peerID] = i
        }
        neighbours = Array(repeating: [], count: n)
        alive = Array(repeating: true, count: n)
        for i in 0..<n {
            var added = 0, attempts = 0
            while added < configuration.connectionsPerNode && attempts < 100 * configuration.connectionsPerNode {
                attempts += 1
                let j = Int(rng.next() % UInt64(n))
                if j != i && neighbours[i].insert(j).inserted { neighbours[j].insert(i); added += 1 }
            }
        }
        for i in 0..<n {
            for j in neighbours[i].sorted() { execute(i, routers[i].addPeer(peers[j])) }
        }
        let interval = configuration.router.heartbeatInterval
        for i in 0..<n {
            // Spread the heartbeats over one interval, as independent nodes would be.
            let phase = Duration.nanoseconds(Int64(rng.next() % max(1, interval.nanoseconds)))
            queue.push(now + phase, .heartbeat(i))
        }
    }

    private func latency(_ a: Int, _ b: Int) -> Duration {
        var h = SplitMix64(seed: UInt64(min(a, b)) << 32 | UInt64(max(a, b)) ^ configuration.seed)
        let r = configuration.latencyMilliseconds
        return .milliseconds(Int64(r.lowerBound + h.next() % (r.upperBound - r.lowerBound + 1)))
    }

    private mutating func execute(_ node: Int, _ actions: [GossipsubRouter.Action]) {
        for action in actions {
            switch action {
            case .send(let to, let rpc):
                guard let j = index[to], alive[node], alive[j], neighbours[node].contains(j) else { continue }
                rpcsSent += 1
                queue.push(now + latency(node, j), .rpc(from: node, to: j, rpc))
            case .deliver(let message, _):
                deliveries[HashedBytes(message.id), default: []].insert(node)
            }
        }
    }

    /// Processes events up to simulated time `limit`.
    public mutating func run(until limit: NetworkInstant) {
        while let t = queue.peekTime(), t <= limit, let (time, event) = queue.pop() {
            now = max(now, time)
            switch event {
            case .rpc(let from, let to, let rpc):
                guard alive[to] else { continue }
                execute(to, routers[to].handle(rpc, from: peers[from], now: now))
            case .heartbeat(let i):
                guard alive[i] else { continue }
                var r = SplitMix64(seed: rng.next())
                execute(i, routers[i].heartbeat(now: now, rng: &r))
                queue.push(now + configuration.router.heartbeatInterval, .heartbeat(i))
            }
        }
        now = max(now, limit)
    }

    public mutating func run(for d: Duration) { run(until: now + d) }

    /// Every live node subscribes to the topic.
    public mutating func subscribeAll() {
        for i in routers.indices where alive[i] {
            var r = SplitMix64(seed: rng.next())
            execute(i, routers[i].subscribe(configuration.topic, now: now, rng: &r))
        }
    }

    public mutating func publish(from node: Int, data: [UInt8]) throws -> [UInt8] {
        var r = SplitMix64(seed: rng.next())
        let (id, actions) = try routers[node].publish(configuration.topic, data: data, now: now, rng: &r)
        execute(node, actions)
        deliveries[HashedBytes(id), default: []].insert(node)  // the author has its own message
        return id
    }

    /// Kills a random fraction of nodes; their neighbours see the connections drop.
    public mutating func kill(fraction: Double) {
        var order = Array(routers.indices.filter { alive[$0] })
        order.shuffle(using: &rng)
        for i in order.prefix(Int(Double(routers.count) * fraction)) {
            alive[i] = false
            for j in neighbours[i] where alive[j] { routers[j].removePeer(peers[i]) }
        }
    }

    public mutating func randomLiveNode() -> Int {
        while true {
            let i = Int(rng.next() % UInt64(routers.count))
            if alive[i] { return i }
        }
    }

    /// Fraction of live nodes that received message `id`.
    public func deliveryRatio(_ id: [UInt8]) -> Double {
        let live = alive.filter { $0 }.count
        let got = (deliveries[HashedBytes(id)] ?? []).filter { alive[$0] }.count
        return Double(got) / Double(max(1, live))
    }

    public func meshSizes() -> [Int] {
        routers.indices.filter { alive[$0] }.map { routers[$0].mesh[configuration.topic]?.count ?? 0 }
    }

    /// Publishes `count` messages from random live nodes, `spacing` apart, waits
    /// `settle`, and returns the mean and the minimum delivery ratio.
    public mutating func measureDelivery(messages count: Int, spacing: Duration = .milliseconds(100),
                                         settle: Duration = .seconds(5)) throws -> (mean: Double, min: Double) {
        var ids: [[UInt8]] = []
        for n in 0..<count {
            ids.append(try publish(from: randomLiveNode(), data: Array("message \(n)".utf8)))
            run(for: spacing)
        }
        run(for: settle)
        let ratios = ids.map(deliveryRatio)
        return (ratios.reduce(0, +) / Double(max(1, ratios.count)), ratios.min() ?? 0)
    }
}

/// Memoises StrictSign verification across the simulated nodes: every node
/// still validates every message, but identical bytes are checked with
/// Ed25519 only once per process (the result cannot differ between nodes).
final class SignatureMemo: Sendable {
    private let results = Mutex<[HashedBytes: PeerID?]>([:])

    func validate(_ message: PubSubRPC.Message) -> PeerID? {
        let key = HashedBytes(message.encoded)
        if let known = results.withLock({ $0[key] }) { return known }
        let author = message.verifiedAuthor()
        results.withLock { $0[key] = author }
        return author
    }
}

/// A deterministic in-process network of ``KademliaNode``s: a simulated clock,
/// a seeded PRNG, and simulated links with per-link latency, message loss and
/// partitions. The nodes run the very state machine a real host runs; only the
/// transport is simulated. Used by tests (acceptance targets of issue 5) and by
/// `vivim bench dht-sim`.
public struct DHTSimulation: Sendable {
    public struct Configuration: Sendable {
        public var nodeCount = 1000
        public var seed: UInt64 = 1
        public var kademlia = KademliaNode.Configuration()
        /// One-way link latency is drawn per link, uniformly in this range (milliseconds).
        public var latencyMilliseconds: ClosedRange<UInt64> = 5...80
        /// Probability that any single message is lost.
        public var lossRate = 0.0
        /// Round-trip every message through the protobuf codec (slower; proves the wire format).
        public var encodeMessages = false
        public init() {}
    }

    public typealias NodeIndex = Int

    enum Event: Sendable {
        case request(from: NodeIndex, to: NodeIndex, KademliaNode.RequestID, KadMessage)
        case response(to: NodeIndex, KademliaNode.RequestID, KadMessage)
        case oneWay(from: NodeIndex, to: NodeIndex, KadMessage)
        case failure(at: NodeIndex, KademliaNode.RequestID)
    }

    public let configuration: Configuration
    public private(set) var nodes: [KademliaNode] = []
    public private(set) var peers: [PeerID] = []
    private var index: [PeerID: NodeIndex] = [:]
    public private(set) var alive: [Bool] = []
    /// Nodes in different partitions cannot reach each other (all start in partition 0).
    public var partition: [Int] = []
    public private(set) var now = NetworkInstant.zero
    private var queue = EventQueue<Event>()
    private var rng: SplitMix64
    private var results: [NodeIndex: [KademliaNode.QueryID: KademliaNode.QueryResult]] = [:]
    public private(set) var messagesDelivered = 0
    public private(set) var messagesLost = 0

    public init(configuration: Configuration) throws {
        self.configuration = configuration
        rng = SplitMix64(seed: configuration.seed)
        for _ in 0..<configuration.nodeCount {
            var seed = [UInt8](repeating: 0, count: 32)
            for i in stride(from: 0, to: 32, by: 8) {
                let r = rng.next()
                for j in 0..<8 { seed[i + j] = UInt8(truncatingIfNeeded: r >> UInt64(8 * j)) }
            }
            let peer = try PeerKeyPair(seed: seed).peerID
            index[peer] = nodes.count
            peers.append(peer)
            nodes.append(KademliaNode(localPeer: peer, configuration: configuration.kademlia))
        }
        alive = Array(repeating: true, count: nodes.count)
        partition = Array(repeating: 0, count: nodes.count)
    }

    // MARK: links

    private func latency(_ a: NodeIndex, _ b: NodeIndex) -> Duration {
        var h = SplitMix64(seed: UInt64(min(a, b)) << 32 | UInt64(max(a, b)) ^ configuration.seed)
        let r = configuration.latencyMilliseconds
        return .milliseconds(Int64(r.lowerBound + h.next() % (r.upperBound - r.lowerBound + 1)))
    }

    private mutating func reachable(_ a: NodeIndex, _ b: NodeIndex) -> Bool {
        guard alive[a], alive[b], partition[a] == partition[b] else { return false }
        if configuration.lossRate > 0 && Double(rng.next() % 1_000_000) / 1_000_000 < configuration.lossRate { return false }
        return true
    }

    private func wire(_ m: KadMessage) -> KadMessage {
        guard configuration.encodeMessages else { return m }
        // A codec failure here is a bug in the codec: the simulation must notice.
        return try! KadMessage(decoding: m.encoded)
    }

    private mutating func execute(_ node: NodeIndex, _ actions: [KademliaNode.Action]) {
        for action in actions {
            switch action {
            case .request(let rid, let to, _, let message):
                guard let target = index[to] else {
                    queue.push(now + configuration.kademlia.requestTimeout, .failure(at: node, rid)); continue
                }
                // Decide the fate of the request and of its response up front.
                if reachable(node, target) && reachable(target, node) {
                    queue.push(now + latency(node, target), .request(from: node, to: target, rid, wire(message)))
                } else {
                    messagesLost += 1
                    queue.push(now + configuration.kademlia.requestTimeout, .failure(at: node, rid))
                }
            case .send(let to, _, let message):
                guard let target = index[to], reachable(node, target) else { messagesLost += 1; continue }
                queue.push(now + latency(node, target), .oneWay(from: node, to: target, wire(message)))
            case .queryFinished(let qid, let result):
                results[node, default: [:]][qid] = result
            }
        }
    }

    /// Processes events until the queue is empty or `maxEvents` were handled.
    public mutating func run(maxEvents: Int = 50_000_000) {
        var handled = 0
        while handled < maxEvents, let (time, event) = queue.pop() {
            handled += 1
            now = max(now, time)
            switch event {
            case .request(let from, let to, let rid, let message):
                guard alive[to] else { continue }
                messagesDelivered += 1
                let response = nodes[to].handleRequest(from: peers[from], message, now: now)
                if let response {
                    queue.push(now + latency(from, to), .response(to: from, rid, wire(response)))
                }
            case .response(let to, let rid, let message):
                guard alive[to] else { continue }
                messagesDelivered += 1
                execute(to, nodes[to].handleResponse(rid, message, now: now))
            case .oneWay(let from, let to, let message):
                guard alive[to] else { continue }
                messagesDelivered += 1
                _ = nodes[to].handleRequest(from: peers[from], message, now: now)
            case .failure(let at, let rid):
                guard alive[at] else { continue }
                execute(at, nodes[at].handleFailure(rid, now: now))
            }
        }
    }

    // MARK: scenario operations

    /// Joins every node through node 0: each learns the bootstrap peer and looks
    /// itself up, staggered by `interval`; then every node refreshes once more.
    public mutating func bootstrap(interval: Duration = .milliseconds(20)) {
        for i in 1..<nodes.count {
            nodes[i].addPeer(peers[0], now: now)
        }
        let start = now
        // Stagger the joins: run the event loop up to each join time.
        for i in 1..<nodes.count {
            let at = start + interval * Double(i)
            runUntil(at)
            now = max(now, at)
            execute(i, nodes[i].startQuery(.findNode, key: peers[i].bytes, now: now).1)
        }
        run()
        for i in 0..<nodes.count {
            execute(i, nodes[i].startQuery(.findNode, key: peers[i].bytes, now: now).1)
            if i % 50 == 49 { run() }
        }
        run()
        results = [:]
    }

    private mutating func runUntil(_ limit: NetworkInstant) {
        while let t = queue.peekTime(), t <= limit { run(maxEvents: 1) }
    }

    /// Starts a query on `node`; call ``run(maxEvents:)`` and then ``result(of:on:)``.
    public mutating func startQuery(_ kind: KademliaNode.QueryKind, key: [UInt8], on node: NodeIndex) -> KademliaNode.QueryID {
        let (qid, actions) = nodes[node].startQuery(kind, key: key, now: now)
        execute(node, actions)
        return qid
    }

    public func result(of query: KademliaNode.QueryID, on node: NodeIndex) -> KademliaNode.QueryResult? {
        results[node]?[query]
    }

    /// Brute-force oracle: the `count` live peers closest to SHA-256(key).
    public func trueClosest(to key: [UInt8], count: Int) -> [PeerID] {
        let target = KadKey(hashing: key)
        return peers.indices.filter { alive[$0] }
            .map { (KadKey(peer: peers[$0]).distance(to: target), peers[$0]) }
            .sorted { $0.0 < $1.0 }.prefix(count).map(\.1)
    }

    /// Kills a random `fraction` of nodes (never those in `spare`); they drop everything.
    public mutating func kill(fraction: Double, sparing spare: Set<NodeIndex> = []) {
        let candidates = nodes.indices.filter { alive[$0] && !spare.contains($0) }
        var shuffled = candidates
        shuffled.shuffle(using: &rng)
        for i in shuffled.prefix(Int(Double(nodes.count) * fraction)) { alive[i] = false }
    }

    public mutating func randomNode(alive wantAlive: Bool = true) -> NodeIndex {
        while true {
            let i = Int(rng.next() % UInt64(nodes.count))
            if alive[i] == wantAlive { return i }
        }
    }

    public mutating func randomKey() -> [UInt8] {
        (0..<4).flatMap { _ -> [UInt8] in let r = rng.next(); return (0..<8).map { UInt8(truncatingIfNeeded: r >> UInt64(8 * $0)) } }
    }

    /// Advances the clock (timers: expiry, republish, refresh) on every live node.
    public mutating func advanceClock(by d: Duration) {
        now = now + d
        for i in nodes.indices where alive[i] {
            var r = SplitMix64(seed: rng.next())
            execute(i, nodes[i].tick(now: now, rng: &r))
        }
        run()
    }
}

/// SplitMix64 (Steele, Lea & Flood 2014): a tiny, seedable, deterministic PRNG.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A binary min-heap of timed events; ties keep insertion order (determinism).
struct EventQueue<Element: Sendable>: Sendable {
    struct Item: Sendable { let time: NetworkInstant; let seq: UInt64; let element: Element }
    private var heap: [Item] = []
    private var seq: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }
    func peekTime() -> NetworkInstant? { heap.first?.time }

    private static func less(_ a: Item, _ b: Item) -> Bool {
        a.time < b.time || (a.time == b.time && a.seq < b.seq)
    }

    mutating func push(_ time: NetworkInstant, _ element: Element) {
        seq += 1
        heap.append(Item(time: time, seq: seq, element: element))
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard Self.less(heap[i], heap[parent]) else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> (NetworkInstant, Element)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < heap.count && Self.less(heap[l], heap[m]) { m = l }
            if r < heap.count && Self.less(heap[r], heap[m]) { m = r }
            if m == i { break }
            heap.swapAt(i, m)
            i = m
        }
        return (top.time, top.element)
    }
}

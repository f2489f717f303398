/// The iterative lookup of Kademlia (Maymounkov & Mazières 2002, §2.3; libp2p
/// kad-dht §"Peer routing") as a state machine: keep the candidates sorted by
/// distance to the target, query up to α of the closest not yet queried, and
/// finish when the k closest known candidates have all answered (or failed).
public struct KadLookup: Sendable {
    public enum State: Sendable, Equatable { case notQueried, waiting, succeeded, failed }

    public struct Candidate: Sendable {
        public let peer: PeerID
        public let distance: KadKey
        public var addrs: [Multiaddr]
        public var state: State
        /// Query depth at which the peer was learned: 0 = from the local routing table.
        public let depth: Int
    }

    public let target: KadKey
    public let k: Int
    public let alpha: Int
    /// Sorted by distance, nearest first.
    public private(set) var candidates: [Candidate] = []
    private var index: [PeerID: Int] = [:]
    private let localPeer: PeerID
    public private(set) var messagesSent = 0

    public init(target: KadKey, localPeer: PeerID, seeds: [(PeerID, [Multiaddr])], k: Int, alpha: Int) {
        self.target = target
        self.k = k
        self.alpha = alpha
        self.localPeer = localPeer
        add(seeds, depth: 0)
    }

    private mutating func add(_ peers: [(PeerID, [Multiaddr])], depth: Int) {
        var changed = false
        for (peer, addrs) in peers where peer != localPeer && index[peer] == nil {
            candidates.append(Candidate(peer: peer, distance: KadKey(peer: peer).distance(to: target),
                                        addrs: addrs, state: .notQueried, depth: depth))
            index[peer] = -1
            changed = true
        }
        guard changed else { return }
        candidates.sort { $0.distance < $1.distance }
        for (i, c) in candidates.enumerated() { index[c.peer] = i }
    }

    private var inFlight: Int { candidates.reduce(0) { $0 + ($1.state == .waiting ? 1 : 0) } }

    /// Whether the k closest candidates that have not failed have all answered.
    public var isFinished: Bool {
        var seen = 0
        for c in candidates where c.state != .failed {
            if c.state != .succeeded { return false }
            seen += 1
            if seen == k { return true }
        }
        return inFlight == 0
    }

    /// Peers to query now (marks them as waiting).
    public mutating func nextQueries() -> [Candidate] {
        guard !isFinished else { return [] }
        var budget = alpha - inFlight
        var out: [Candidate] = []
        var considered = 0
        for i in candidates.indices {
            guard budget > 0 else { break }
            if candidates[i].state == .failed { continue }
            considered += 1
            if considered > k { break }  // only the k closest live candidates are worth asking
            if candidates[i].state == .notQueried {
                candidates[i].state = .waiting
                out.append(candidates[i])
                budget -= 1
            }
        }
        messagesSent += out.count
        return out
    }

    public mutating func succeeded(_ peer: PeerID, closer: [(PeerID, [Multiaddr])]) {
        guard let i = index[peer], i >= 0, candidates[i].state == .waiting else { return }
        candidates[i].state = .succeeded
        add(closer, depth: candidates[i].depth + 1)
    }

    public mutating func failed(_ peer: PeerID) {
        guard let i = index[peer], i >= 0, candidates[i].state == .waiting else { return }
        candidates[i].state = .failed
    }

    /// The k closest peers that answered, nearest first.
    public var closestSucceeded: [Candidate] {
        Array(candidates.lazy.filter { $0.state == .succeeded }.prefix(k))
    }
}

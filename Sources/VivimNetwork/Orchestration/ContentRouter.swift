/// The content router of SPEC §8.7 as a Sans-IO value: orders the providers
/// of a piece of content (found in the DHT) by a strategy — latency,
/// bandwidth, hops, reputation, or a weighted hybrid — using the metrics of a
/// ``TopologyManager``, and turns fetch outcomes back into topology metrics.
///
/// Every metric becomes a goodness in [0, 1]: latency `r/(r+rtt)`, bandwidth
/// `b/(b+r)` (r: the configured reference), hops `1/hops`, reputation as is. A
/// metric not measured yet scores ``Configuration/unknownScore`` (0.5: as good as
/// the reference), so new peers rank above peers known to be poor and get tried.
/// A strategy's score is the weighted mean of the goodness values. Ties go to the
/// balanced hybrid score, then to the input order (the DHT's), so the ranking is
/// deterministic and, with no metrics at all, keeps the input order.
public struct ContentRouter: Sendable {
    /// Relative weights of the metrics in a hybrid score (negative values count as 0).
    public struct Weights: Sendable, Equatable, Codable {
        public var latency: Double
        public var bandwidth: Double
        public var hops: Double
        public var reputation: Double
        public init(latency: Double = 0, bandwidth: Double = 0, hops: Double = 0, reputation: Double = 0) {
            (self.latency, self.bandwidth, self.hops, self.reputation) = (latency, bandwidth, hops, reputation)
        }
        /// Reputation first (a provider that answers), then latency and bandwidth, hops least.
        public static let balanced = Weights(latency: 0.3, bandwidth: 0.2, hops: 0.1, reputation: 0.4)
    }

    public enum Strategy: Sendable, Equatable {
        case latency, bandwidth, hops, reputation
        case hybrid(Weights)

        public var weights: Weights {
            switch self {
            case .latency: Weights(latency: 1)
            case .bandwidth: Weights(bandwidth: 1)
            case .hops: Weights(hops: 1)
            case .reputation: Weights(reputation: 1)
            case .hybrid(let w): w
            }
        }
    }

    public struct Configuration: Sendable {
        public var strategy: Strategy = .hybrid(.balanced)
        /// Round trip that scores 0.5.
        public var latencyReference: Duration = .milliseconds(100)
        /// Bytes per second that score 0.5.
        public var bandwidthReference = 1_000_000.0
        /// Goodness of a metric not measured yet.
        public var unknownScore = 0.5
        public init() {}
    }

    /// The result of fetching from one provider, fed back into the topology.
    public enum FetchOutcome: Sendable, Equatable {
        case success(PeerID, bytes: Int, duration: Duration)
        case failure(PeerID)

        public var peer: PeerID {
            switch self {
            case .success(let p, _, _), .failure(let p): p
            }
        }
    }

    /// One provider's goodness per metric and its score under the strategy used.
    public struct Score: Sendable, Equatable {
        public var peer: PeerID
        public var latency: Double
        public var bandwidth: Double
        public var hops: Double
        public var reputation: Double
        public var total: Double
        public var knownBad: Bool
    }

    public struct Statistics: Sendable, Equatable, Codable {
        public var fetches = 0
        public var failures = 0
        public var bytes = 0
        public var errorRate: Double { fetches == 0 ? 0 : Double(failures) / Double(fetches) }
    }

    public var configuration: Configuration
    public private(set) var statistics = Statistics()

    public init(configuration: Configuration = .init()) { self.configuration = configuration }

    /// `providers` best first under `strategy` (default: the configured one). The local peer and
    /// repeated ids are dropped (a repeat's addresses are merged); known-bad peers go last.
    public func rank(_ providers: [KadMessage.Peer], topology: TopologyManager, strategy: Strategy? = nil,
                     now: NetworkInstant) -> [KadMessage.Peer] {
        var unique: [KadMessage.Peer] = []
        var index: [PeerID: Int] = [:]
        for p in providers where p.id != topology.localPeer {
            if let i = index[p.id] {
                for a in p.addrs where !unique[i].addrs.contains(a) { unique[i].addrs.append(a) }
            } else {
                index[p.id] = unique.count
                unique.append(p)
            }
        }
        let weights = (strategy ?? configuration.strategy).weights
        let hopCounts = topology.hopCounts()
        let scored = unique.enumerated().map { i, p in
            (i, score(p.id, weights: weights, topology: topology, hops: hopCounts, now: now),
             score(p.id, weights: .balanced, topology: topology, hops: hopCounts, now: now).total)
        }
        return scored.sorted { a, b in
            if a.1.knownBad != b.1.knownBad { return !a.1.knownBad }
            if a.1.total != b.1.total { return a.1.total > b.1.total }
            if a.2 != b.2 { return a.2 > b.2 }
            return a.0 < b.0
        }.map { unique[$0.0] }
    }

    /// The goodness values and weighted score of `peer`.
    public func score(_ peer: PeerID, weights: Weights, topology: TopologyManager, hops: [PeerID: Int]? = nil,
                      now: NetworkInstant) -> Score {
        let unknown = configuration.unknownScore
        let p = topology.peers[peer]
        let latency = p?.latency.map { rtt -> Double in
            let r = Double(configuration.latencyReference.nanoseconds), x = Double(rtt.nanoseconds)
            return r + x > 0 ? r / (r + x) : 1
        } ?? unknown
        let bandwidth = p?.bandwidth.map { b -> Double in
            let r = max(configuration.bandwidthReference, 1)
            return max(b, 0) / (max(b, 0) + r)
        } ?? unknown
        let hopCount = hops.map { $0[peer] } ?? topology.hops(to: peer)
        let hopScore = hopCount.map { 1 / Double(max($0, 1)) } ?? unknown
        let reputation = topology.peers[peer] == nil ? unknown : topology.reputation(of: peer, now: now)
        let w = [max(weights.latency, 0), max(weights.bandwidth, 0), max(weights.hops, 0), max(weights.reputation, 0)]
        let sum = w.reduce(0, +)
        let total = sum > 0 ? (w[0] * latency + w[1] * bandwidth + w[2] * hopScore + w[3] * reputation) / sum : 0
        return Score(peer: peer, latency: latency, bandwidth: bandwidth, hops: hopScore, reputation: reputation,
                     total: total, knownBad: topology.isKnownBad(peer, now: now))
    }

    /// Feeds a fetch result back: a success updates bandwidth and reputation, a failure reputation.
    public mutating func record(_ outcome: FetchOutcome, into topology: inout TopologyManager, now: NetworkInstant) {
        statistics.fetches += 1
        switch outcome {
        case .success(let peer, let bytes, let duration):
            statistics.bytes += max(0, bytes)
            topology.apply(.transfer(peer, bytes: bytes, duration: duration), now: now)
        case .failure(let peer):
            statistics.failures += 1
            topology.apply(.failed(peer), now: now)
        }
    }
}

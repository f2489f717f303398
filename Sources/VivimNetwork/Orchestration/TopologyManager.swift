#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The topology manager of SPEC §8.7 as a Sans-IO value: the peer graph this node
/// knows (peers, their node type and addresses, connected or not, and the
/// neighbours peers report), with metrics fed in by the shell — round trips
/// (latency EWMA), transfers (bandwidth EWMA) and outcomes (a reputation in
/// [0, 1] that decays back to a neutral prior). From it: hop counts (BFS from
/// this node), ``optimalPeers(count:for:now:)`` and
/// ``replicationTargets(for:candidates:count:now:)``. No I/O, no clock.
public struct TopologyManager: Sendable {
    public struct Configuration: Sendable {
        /// Weight of a new sample in the latency EWMA (RFC 6298 uses 1/8).
        public var latencyAlpha = 0.125
        /// Weight of a new transfer in the bandwidth EWMA.
        public var bandwidthAlpha = 0.25
        /// Outcome evidence halves every `reputationHalfLife`, so old behaviour fades.
        public var reputationHalfLife: Duration = .seconds(600)
        /// Reputation of a peer with no evidence, and the weight (in outcomes) of that prior.
        public var reputationPrior = 0.5
        public var priorWeight = 2.0
        /// Peers below this reputation, with at least ``minEvidence`` outcomes, are "known bad".
        public var badReputation = 0.25
        public var minEvidence = 3.0
        /// Transfers smaller than this do not update the bandwidth estimate (dominated by latency).
        public var minBandwidthSample = 16 * 1024
        /// Peers remembered at most; the disconnected peer seen longest ago is forgotten first.
        public var maxPeers = 10_000
        /// Neighbours kept per reporting peer.
        public var maxNeighbours = 64
        public init() {}
    }

    /// What a peer offers (SPEC §8.6), as in ``VivimNode/NodeType/Capabilities``.
    public enum Capability: Sendable, Hashable, CaseIterable {
        case dhtServer, storesReplicas, relaysPubSub, indexes

        func offered(by type: VivimNode.NodeType) -> Bool {
            let c = type.capabilities
            switch self {
            case .dhtServer: return c.dhtServer
            case .storesReplicas: return c.storesReplicas
            case .relaysPubSub: return c.relaysPubSub
            case .indexes: return c.indexes
            }
        }
    }

    /// What the node knows and measured about one peer.
    public struct Peer: Sendable, Equatable {
        /// Declared node type, if the peer told (nil: unknown, treated as possibly capable).
        public var nodeType: VivimNode.NodeType?
        public var addrs: [Multiaddr] = []
        public var connected = false
        public var joinedAt: NetworkInstant?
        public var lastSeen: NetworkInstant
        /// Smoothed round-trip time.
        public var latency: Duration?
        /// Smoothed transfer rate, bytes per second.
        public var bandwidth: Double?
        /// Decayed counts of good and bad outcomes, as of ``evidenceAt``.
        public var successes = 0.0
        public var failures = 0.0
        public var evidenceAt: NetworkInstant
        /// Peers this peer says it is connected to.
        public var neighbours: Set<PeerID> = []
        /// Transfers and requests observed (never decayed).
        public var bytesTransferred = 0

        /// Whether the peer offers `capability`: true/false when its type is known, nil otherwise.
        public func offers(_ capability: Capability) -> Bool? { nodeType.map(capability.offered(by:)) }
    }

    /// Inputs from the shell.
    public enum Event: Sendable, Equatable {
        /// A connection to the peer is up (join).
        case connected(PeerID, addrs: [Multiaddr] = [])
        /// The last connection to the peer closed (leave); its record and metrics are kept.
        case disconnected(PeerID)
        /// The peer declared its node type (e.g. via identify or an announcement).
        case identified(PeerID, VivimNode.NodeType, addrs: [Multiaddr] = [])
        /// The peer reported the peers it is connected to (edges of the graph).
        case neighbours(PeerID, [PeerID])
        /// A round trip to the peer was measured.
        case latency(PeerID, Duration)
        /// `bytes` came from (or went to) the peer in `duration`; also a success.
        case transfer(PeerID, bytes: Int, duration: Duration)
        /// A request to the peer succeeded or failed.
        case succeeded(PeerID)
        case failed(PeerID)
        /// Drop everything known of the peer.
        case forget(PeerID)
    }

    public let localPeer: PeerID
    public let configuration: Configuration
    public private(set) var peers: [PeerID: Peer] = [:]

    public init(localPeer: PeerID, configuration: Configuration = .init()) {
        self.localPeer = localPeer
        self.configuration = configuration
    }

    public var count: Int { peers.count }
    public var connectedCount: Int { peers.values.lazy.filter(\.connected).count }
    /// Edges reported by peers (each reporter–neighbour pair once).
    public var reportedEdges: Int { peers.values.reduce(0) { $0 + $1.neighbours.count } }

    // MARK: events

    public mutating func apply(_ event: Event, now: NetworkInstant) {
        switch event {
        case .connected(let peer, let addrs):
            update(peer, now: now) { p in
                if !p.connected { p.joinedAt = now }
                p.connected = true
                Self.merge(addrs, into: &p.addrs)
            }
        case .disconnected(let peer):
            guard peers[peer] != nil else { return }
            update(peer, now: now) { p in
                p.connected = false
                p.joinedAt = nil
            }
        case .identified(let peer, let type, let addrs):
            update(peer, now: now) { p in
                p.nodeType = type
                Self.merge(addrs, into: &p.addrs)
            }
        case .neighbours(let peer, let list):
            let limit = configuration.maxNeighbours
            let me = localPeer
            update(peer, now: now) { p in
                p.neighbours = Set(list.lazy.filter { $0 != peer }.prefix(limit))
                p.neighbours.remove(me)
            }
        case .latency(let peer, let rtt):
            let alpha = configuration.latencyAlpha
            update(peer, now: now) { p in
                p.latency = p.latency.map { $0 * (1 - alpha) + rtt * alpha } ?? rtt
            }
        case .transfer(let peer, let bytes, let duration):
            let alpha = configuration.bandwidthAlpha, minimum = configuration.minBandwidthSample
            update(peer, now: now) { p in
                p.bytesTransferred += max(0, bytes)
                let seconds = Double(duration.nanoseconds) / 1e9
                if bytes >= minimum && seconds > 0 {
                    let rate = Double(bytes) / seconds
                    p.bandwidth = p.bandwidth.map { $0 * (1 - alpha) + rate * alpha } ?? rate
                }
            }
            record(peer, success: true, now: now)
        case .succeeded(let peer):
            record(peer, success: true, now: now)
        case .failed(let peer):
            record(peer, success: false, now: now)
        case .forget(let peer):
            peers[peer] = nil
        }
    }

    // MARK: metrics

    /// Reputation in [0, 1]: the Beta-mean of decayed outcomes and the prior,
    /// `(s + prior·w) / (s + f + w)`; tends back to the prior as evidence ages.
    public func reputation(of peer: PeerID, now: NetworkInstant) -> Double {
        guard let p = peers[peer] else { return configuration.reputationPrior }
        let (s, f) = decayed(p, now: now)
        let w = max(configuration.priorWeight, 1e-9)
        return (s + configuration.reputationPrior * w) / (s + f + w)
    }

    /// Decayed outcome evidence (successes + failures).
    public func evidence(of peer: PeerID, now: NetworkInstant) -> Double {
        guard let p = peers[peer] else { return 0 }
        let (s, f) = decayed(p, now: now)
        return s + f
    }

    /// A peer with enough recent evidence of failing.
    public func isKnownBad(_ peer: PeerID, now: NetworkInstant) -> Bool {
        evidence(of: peer, now: now) >= configuration.minEvidence && reputation(of: peer, now: now) < configuration.badReputation
    }

    /// Hops from this node to every reachable peer: connected peers are 1 hop, their
    /// reported neighbours 2, and so on (breadth-first over undirected edges).
    public func hopCounts() -> [PeerID: Int] {
        var adjacency: [PeerID: [PeerID]] = [:]
        for (id, p) in peers {
            if p.connected { adjacency[localPeer, default: []].append(id); adjacency[id, default: []].append(localPeer) }
            for n in p.neighbours { adjacency[id, default: []].append(n); adjacency[n, default: []].append(id) }
        }
        var hops: [PeerID: Int] = [localPeer: 0]
        var frontier = [localPeer]
        var depth = 0
        while !frontier.isEmpty {
            depth += 1
            var next: [PeerID] = []
            for node in frontier {
                for n in adjacency[node] ?? [] where hops[n] == nil {
                    hops[n] = depth
                    next.append(n)
                }
            }
            frontier = next
        }
        hops[localPeer] = nil
        return hops
    }

    public func hops(to peer: PeerID) -> Int? { hopCounts()[peer] }

    // MARK: selection

    /// Up to `count` connected peers offering `capability` (declared, then unknown type),
    /// best first: not known bad, higher reputation, lower latency, then peer id.
    public func optimalPeers(count: Int, for capability: Capability? = nil, now: NetworkInstant) -> [PeerID] {
        let ranked = peers.compactMap { id, p -> (PeerID, Int, Double, Duration)? in
            guard p.connected, !isKnownBad(id, now: now) else { return nil }
            let offered = capability.map { p.offers($0) } ?? true
            guard offered != false else { return nil }
            return (id, offered == true ? 0 : 1, reputation(of: id, now: now), p.latency ?? .seconds(3600))
        }.sorted { a, b in
            if a.1 != b.1 { return a.1 < b.1 }
            if a.2 != b.2 { return a.2 > b.2 }
            if a.3 != b.3 { return a.3 < b.3 }
            return a.0 < b.0
        }
        return ranked.prefix(max(0, count)).map(\.0)
    }

    /// Up to `count` peers from `candidates` to hold replicas of `key` (DHT key bytes; the
    /// keyspace position is `SHA-256(key)` as in Kademlia). Never this node, peers known
    /// not to store replicas (CLIENT, BOOTSTRAP, RELAY) or known bad, nor `excluding`.
    /// Order: tier (declared storing type with a good record, then unproven, then
    /// poor), then XOR distance to the key. Diversity: at most one peer per /24 (IPv4)
    /// or /48 (IPv6) while other groups remain; then the rest in order.
    public func replicationTargets(for key: [UInt8], candidates: [PeerID], count: Int,
                                   excluding: Set<PeerID> = [], now: NetworkInstant) -> [PeerID] {
        guard count > 0 else { return [] }
        let target = KadKey(hashing: key)
        var seen: Set<PeerID> = []
        var eligible: [(peer: PeerID, tier: Int, distance: KadKey)] = []
        for c in candidates where c != localPeer && !excluding.contains(c) && seen.insert(c).inserted {
            let p = peers[c]
            if p?.offers(.storesReplicas) == false || isKnownBad(c, now: now) { continue }
            let rep = reputation(of: c, now: now)
            let tier: Int
            if p?.offers(.storesReplicas) == true && rep >= configuration.reputationPrior { tier = 0 }
            else if rep >= configuration.reputationPrior { tier = 1 }
            else { tier = 2 }
            eligible.append((c, tier, c.dhtKey.distance(to: target)))
        }
        eligible.sort { a, b in
            if a.tier != b.tier { return a.tier < b.tier }
            return a.distance < b.distance
        }
        var chosen: [PeerID] = []
        var groups: Set<[UInt8]> = []
        var deferred: [PeerID] = []
        for e in eligible where chosen.count < count {
            if let g = peers[e.peer].flatMap({ Self.networkGroup($0.addrs) }) {
                guard groups.insert(g).inserted else { deferred.append(e.peer); continue }
            }
            chosen.append(e.peer)
        }
        for d in deferred where chosen.count < count { chosen.append(d) }
        return chosen
    }

    /// The /24 of the first IPv4 address, or the /48 of the first IPv6 one; nil for DNS or none.
    public static func networkGroup(_ addrs: [Multiaddr]) -> [UInt8]? {
        for a in addrs {
            for c in a.components {
                switch c {
                case .ip4(let b) where b.count == 4: return [4] + b.prefix(3)
                case .ip6(let b) where b.count == 16: return [6] + b.prefix(6)
                default: continue
                }
            }
        }
        return nil
    }

    // MARK: helpers

    private mutating func update(_ peer: PeerID, now: NetworkInstant, _ body: (inout Peer) -> Void) {
        guard peer != localPeer else { return }
        var p = peers[peer] ?? Peer(lastSeen: now, evidenceAt: now)
        body(&p)
        p.lastSeen = max(p.lastSeen, now)
        let isNew = peers[peer] == nil
        peers[peer] = p
        if isNew && peers.count > configuration.maxPeers { evict(keeping: peer) }
    }

    private mutating func record(_ peer: PeerID, success: Bool, now: NetworkInstant) {
        guard peer != localPeer else { return }
        let (s, f) = peers[peer].map { decayed($0, now: now) } ?? (0, 0)
        update(peer, now: now) { p in
            p.successes = s + (success ? 1 : 0)
            p.failures = f + (success ? 0 : 1)
            p.evidenceAt = max(p.evidenceAt, now)
        }
    }

    private func decayed(_ p: Peer, now: NetworkInstant) -> (Double, Double) {
        let age = Double(now.nanoseconds &- min(now.nanoseconds, p.evidenceAt.nanoseconds))
        let halfLife = Double(max(configuration.reputationHalfLife.nanoseconds, 1))
        let factor = exp2(-age / halfLife)
        return (p.successes * factor, p.failures * factor)
    }

    private mutating func evict(keeping keep: PeerID) {
        let victim = peers.lazy.filter { !$0.value.connected && $0.key != keep }
            .min { a, b in a.value.lastSeen != b.value.lastSeen ? a.value.lastSeen < b.value.lastSeen : a.key < b.key }
        if let victim { peers[victim.key] = nil }
    }

    private static func merge(_ addrs: [Multiaddr], into list: inout [Multiaddr]) {
        for a in addrs.map(\.withoutPeerID) where !list.contains(a) { list.append(a) }
        if list.count > 8 { list.removeFirst(list.count - 8) }
    }
}

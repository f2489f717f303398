/// The connection policy of one node (SPEC §8.6) as a Sans-IO state machine:
/// which peers to stay connected to, when to redial them (exponential backoff
/// with jitter), the peer cap, and per-peer metrics. It does no I/O and reads
/// no clock: the shell (``ConnectionManagerService``) reports connections,
/// dial outcomes, round trips and the time, and performs the returned actions.
public struct ConnectionManager: Sendable {
    public struct Configuration: Sendable {
        /// Peers connected at once (SPEC §8.6: 1,000); dials beyond it are not made and
        /// inbound connections from new peers beyond it are closed.
        public var maxPeers = 1000
        /// Concurrent content transfers per direction (SPEC §8.6: 50).
        public var maxConcurrentTransfers = 50
        /// First redial delay; doubles per consecutive failure up to ``maxBackoff``.
        public var initialBackoff: Duration = .milliseconds(500)
        public var maxBackoff: Duration = .seconds(60)
        /// Fraction of each delay that is random ("equal jitter": delay·(1−j) + U(0, delay·j)),
        /// so peers that lost the same node do not redial it in lockstep.
        public var jitter = 0.5
        /// Consecutive failed dials after which a non-bootstrap peer is forgotten
        /// (bootstrap peers are retried for as long as the node runs).
        public var maxAttempts = 10
        /// Round-trip samples kept for the node's latency percentiles.
        public var latencySamples = 1024
        public init() {}
    }

    /// What the node knows and measured about one peer.
    public struct PeerMetrics: Sendable, Equatable {
        public var connectedSince: NetworkInstant?
        public var connects = 0
        public var disconnects = 0
        public var dialFailures = 0
        /// Smoothed round-trip time (EWMA, α = 1/8 as in RFC 6298), if measured.
        public var rtt: Duration?
        public var lastRTT: Duration?
        public var lastSeen: NetworkInstant?
    }

    public struct Peer: Sendable, Equatable {
        public var addrs: [Multiaddr]
        /// Bootstrap peers are always redialled; others are kept while reachable.
        public var bootstrap: Bool
        public var connected = false
        /// Consecutive failed dials.
        public var attempts = 0
        /// When to dial next; nil when connected or while a dial is in flight.
        public var nextDial: NetworkInstant?
        public var dialing = false
        public var metrics = PeerMetrics()
    }

    public enum Action: Sendable, Equatable {
        /// Dial `peer` at `addrs`; report ``dialSucceeded`` / ``dialFailed``.
        case dial(PeerID, addrs: [Multiaddr])
        /// Close the connections to `peer` (over the peer cap).
        case disconnect(PeerID)
    }

    public let localPeer: PeerID
    public let configuration: Configuration
    public private(set) var peers: [PeerID: Peer] = [:]
    private var latencies: [Duration] = []
    private var latencyCursor = 0

    public init(localPeer: PeerID, configuration: Configuration = .init()) {
        self.localPeer = localPeer
        self.configuration = configuration
    }

    public var connectedCount: Int { peers.values.lazy.filter(\.connected).count }

    /// A peer to keep a connection to (bootstrap list) or a peer learned elsewhere.
    public mutating func addPeer(_ peer: PeerID, addrs: [Multiaddr], bootstrap: Bool = false, now: NetworkInstant) {
        guard peer != localPeer else { return }
        var p = peers[peer] ?? Peer(addrs: [], bootstrap: bootstrap)
        for a in addrs where !p.addrs.contains(a) { p.addrs.append(a) }
        if p.addrs.count > 8 { p.addrs.removeFirst(p.addrs.count - 8) }
        p.bootstrap = p.bootstrap || bootstrap
        if !p.connected && !p.dialing && p.nextDial == nil && p.bootstrap { p.nextDial = now }
        peers[peer] = p
    }

    /// A connection to `peer` was established (either direction). Returns a disconnect
    /// when the peer is new and the node is already at ``Configuration/maxPeers``.
    public mutating func connected(_ peer: PeerID, now: NetworkInstant) -> [Action] {
        guard peer != localPeer else { return [] }
        if peers[peer]?.connected == true { return [] }
        if connectedCount >= configuration.maxPeers && peers[peer]?.bootstrap != true {
            return [.disconnect(peer)]
        }
        var p = peers[peer] ?? Peer(addrs: [], bootstrap: false)
        p.connected = true
        p.dialing = false
        p.attempts = 0
        p.nextDial = nil
        p.metrics.connects += 1
        p.metrics.connectedSince = now
        p.metrics.lastSeen = now
        peers[peer] = p
        return []
    }

    /// The last connection to `peer` closed: schedule a redial if it is worth keeping.
    public mutating func disconnected(_ peer: PeerID, now: NetworkInstant, rng: inout some RandomNumberGenerator) {
        guard var p = peers[peer], p.connected else { return }
        p.connected = false
        p.metrics.disconnects += 1
        p.metrics.connectedSince = nil
        p.metrics.lastSeen = now
        if !p.addrs.isEmpty {
            p.attempts = 0
            p.nextDial = now + backoff(attempts: 0, rng: &rng)
        }
        peers[peer] = p
    }

    public mutating func dialSucceeded(_ peer: PeerID, now: NetworkInstant) -> [Action] {
        peers[peer]?.dialing = false
        return connected(peer, now: now)
    }

    public mutating func dialFailed(_ peer: PeerID, now: NetworkInstant, rng: inout some RandomNumberGenerator) {
        guard var p = peers[peer] else { return }
        p.dialing = false
        p.attempts += 1
        p.metrics.dialFailures += 1
        if !p.bootstrap && p.attempts >= configuration.maxAttempts {
            peers[peer] = nil
            return
        }
        p.nextDial = now + backoff(attempts: p.attempts, rng: &rng)
        peers[peer] = p
    }

    /// A round trip to `peer` was measured (ping).
    public mutating func measured(_ peer: PeerID, rtt: Duration, now: NetworkInstant) {
        if var p = peers[peer] {
            p.metrics.lastRTT = rtt
            p.metrics.rtt = p.metrics.rtt.map { $0 * 7 / 8 + rtt / 8 } ?? rtt
            p.metrics.lastSeen = now
            peers[peer] = p
        }
        if latencies.count < configuration.latencySamples {
            latencies.append(rtt)
        } else if configuration.latencySamples > 0 {
            latencies[latencyCursor] = rtt
            latencyCursor = (latencyCursor + 1) % configuration.latencySamples
        }
    }

    /// Recent round trips of all peers (at most ``Configuration/latencySamples``).
    public var latencySamples: [Duration] { latencies }

    /// Whether a dial to a peer not yet connected fits under the cap.
    public var canConnectMore: Bool { connectedCount < configuration.maxPeers }

    /// Dials that are due.
    public mutating func tick(now: NetworkInstant) -> [Action] {
        var actions: [Action] = []
        var room = configuration.maxPeers - connectedCount - peers.values.lazy.filter(\.dialing).count
        for (id, p) in peers.sorted(by: { $0.key < $1.key }) where !p.connected && !p.dialing && !p.addrs.isEmpty {
            guard let due = p.nextDial, due <= now, room > 0 || p.bootstrap else { continue }
            peers[id]!.dialing = true
            peers[id]!.nextDial = nil
            room -= 1
            actions.append(.dial(id, addrs: p.addrs))
        }
        return actions
    }

    /// The redial delay after `attempts` consecutive failures: min(max, initial·2^attempts), jittered.
    public func backoff(attempts: Int, rng: inout some RandomNumberGenerator) -> Duration {
        let base = configuration.initialBackoff * Int64(1) << Int64(min(attempts, 20))
        let capped = min(base, configuration.maxBackoff)
        let j = min(max(configuration.jitter, 0), 1)
        let fixed = capped * (1 - j)
        let random = capped * (j * Double.random(in: 0..<1, using: &rng))
        return fixed + random
    }
}

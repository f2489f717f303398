import Logging

/// The I/O shell of ``ConnectionManager`` on a ``P2PHost``: follows the host's
/// connections, dials what the policy asks for (bootstrap and known peers, with
/// backoff), closes connections over the peer cap, and pings connected peers
/// for the per-peer and node latency metrics.
public actor ConnectionManagerService {
    public struct Configuration: Sendable {
        public var manager = ConnectionManager.Configuration()
        /// How often due redials are started.
        public var tickInterval: Duration = .milliseconds(250)
        /// How often each connected peer is pinged (yamux ping) for its round-trip time.
        public var pingInterval: Duration = .seconds(5)
        public init() {}
    }

    public enum PeerEvent: Sendable, Equatable {
        case connected(PeerID)
        case disconnected(PeerID)
    }

    private let host: P2PHost
    private var manager: ConnectionManager
    private let configuration: Configuration
    private var rng: NetworkRandom.Generator
    private var tasks: [Task<Void, Never>] = []
    private var dials: [PeerID: Task<Void, Never>] = [:]
    private var lastPing: NetworkInstant = .zero
    private var observers: [@Sendable (PeerEvent) -> Void] = []
    private var stopped = false
    /// Peers this service asked the host to keep alive (released on ``stop()``).
    private var kept: Set<PeerID> = []
    private let logger: Logger

    public init(host: P2PHost, configuration: Configuration = .init(), logger: Logger = Logger(label: "vivim.connections")) {
        self.host = host
        self.configuration = configuration
        self.rng = host.configuration.random.generator
        self.manager = ConnectionManager(localPeer: host.peerID, configuration: configuration.manager)
        self.logger = logger
    }

    private var now: NetworkInstant { host.configuration.clock.now }

    public func start() {
        host.observeConnections { [weak self] event in
            guard let self else { return }
            Task {
                switch event {
                case .connected(let c): await self.connected(c.remotePeer)
                case .disconnected(let c): await self.disconnected(c.remotePeer)
                }
            }
        }
        let interval = configuration.tickInterval
        tasks.append(Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                await self?.tick()
            }
        })
    }

    public func stop() {
        stopped = true
        for t in tasks { t.cancel() }
        for t in dials.values { t.cancel() }
        tasks = []
        dials = [:]
        for peer in kept { host.keepAlive(peer, false) }
        kept = []
    }

    /// Called for every peer connected or disconnected (from the actor; must not block).
    public func observe(_ observer: @escaping @Sendable (PeerEvent) -> Void) { observers.append(observer) }

    /// Adds a peer to keep connected to (bootstrap) or to remember for redialling.
    /// Connections to the peers added here are exempt from the host's idle timeout: the
    /// manager chose to stay connected to them and would only redial an idle-closed one.
    public func addPeer(_ peer: PeerID, addrs: [Multiaddr], bootstrap: Bool = false) {
        manager.addPeer(peer, addrs: addrs.map(\.withoutPeerID), bootstrap: bootstrap, now: now)
        if peer != host.peerID, kept.insert(peer).inserted { host.keepAlive(peer, true) }
        if bootstrap { tick() }
    }

    public var connectedPeers: Int { manager.connectedCount }
    public func metrics(of peer: PeerID) -> ConnectionManager.PeerMetrics? { manager.peers[peer]?.metrics }
    public var peers: [PeerID: ConnectionManager.Peer] { manager.peers }
    public var latencySamples: [Duration] { manager.latencySamples }
    public var dialFailures: Int { manager.peers.values.reduce(0) { $0 + $1.metrics.dialFailures } }
    public var canConnectMore: Bool { manager.canConnectMore }

    // MARK: events

    private func connected(_ peer: PeerID) {
        let actions = manager.connected(peer, now: now)
        execute(actions)
        if actions.isEmpty { for o in observers { o(.connected(peer)) } }
    }

    private func disconnected(_ peer: PeerID) {
        guard host.connections(to: peer).isEmpty, manager.peers[peer]?.connected == true else { return }
        manager.disconnected(peer, now: now, rng: &rng)
        for o in observers { o(.disconnected(peer)) }
    }

    private func tick() {
        guard !stopped else { return }
        execute(manager.tick(now: now))
        if now - lastPing >= configuration.pingInterval {
            lastPing = now
            for (peer, p) in manager.peers where p.connected {
                guard let connection = host.connections(to: peer).first else { continue }
                Task { [weak self] in
                    guard let rtt = try? await withDeadline(.seconds(5), { try await connection.yamuxPing() }) else { return }
                    await self?.measured(peer, rtt)
                }
            }
        }
    }

    private func measured(_ peer: PeerID, _ rtt: Duration) { manager.measured(peer, rtt: rtt, now: now) }

    private func execute(_ actions: [ConnectionManager.Action]) {
        for action in actions {
            switch action {
            case .dial(let peer, let addrs):
                guard dials[peer] == nil, let addr = addrs.first(where: { $0.tcpEndpoint != nil }) else {
                    manager.dialFailed(peer, now: now, rng: &rng)
                    continue
                }
                let host = self.host
                dials[peer] = Task { [weak self] in
                    let ok = (try? await host.dial(addr.withoutPeerID.appending(.p2p(peer)))) != nil
                    await self?.dialed(peer, ok)
                }
            case .disconnect(let peer):
                logger.debug("peer cap reached, closing", metadata: ["peer": "\(peer)"])
                for c in host.connections(to: peer) { Task { await c.close() } }
            }
        }
    }

    private func dialed(_ peer: PeerID, _ ok: Bool) {
        dials[peer] = nil
        if ok {
            // The connection observer reports it too; whichever comes first counts it.
            let wasConnected = manager.peers[peer]?.connected == true
            let actions = manager.dialSucceeded(peer, now: now)
            execute(actions)
            if !wasConnected && actions.isEmpty { for o in observers { o(.connected(peer)) } }
        } else {
            manager.dialFailed(peer, now: now, rng: &rng)
        }
    }
}

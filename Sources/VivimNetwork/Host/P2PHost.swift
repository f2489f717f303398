import NIOCore
import NIOPosix
import Logging
import Synchronization

/// A libp2p host over TCP: listens and dials, upgrades every connection with
/// ``SecureConnection`` (multistream-select, Noise, yamux), dispatches inbound
/// streams to registered protocol handlers, and serves identify and ping.
public final class P2PHost: Sendable {
    /// Serves one inbound stream. When it returns the host closes the stream;
    /// when it throws the host resets it.
    public typealias StreamHandler = @Sendable (P2PStream) async throws -> Void

    public enum ConnectionEvent: Sendable {
        case connected(P2PConnection)
        case disconnected(P2PConnection)
    }
    public typealias ConnectionObserver = @Sendable (ConnectionEvent) -> Void

    public struct Configuration: Sendable {
        public var agentVersion = "vivim/0.1.0"
        /// Upper bound on the Noise + yamux upgrade of a new connection.
        public var handshakeTimeout: Duration = .seconds(10)
        /// Upper bound on multistream negotiation of an inbound stream.
        public var streamNegotiationTimeout: Duration = .seconds(10)
        /// Inbound sockets open at once, handshaking or established (SPEC §8.6: 1,000
        /// peers); inbound sockets beyond it are closed immediately. Counted apart from
        /// outbound ones so an inbound flood never stops the node dialing (finding 17).
        public var maxInboundConnections = 1000
        /// Outbound sockets open at once (dials to bootstrap peers, lookups, fetch targets).
        public var maxOutboundConnections = 256
        /// Inbound sockets from one IP address at once (finding 17); beyond it they are
        /// closed immediately. Generous enough for several nodes behind one NAT.
        public var maxInboundPerIP = 16
        /// Loopback peers (127.0.0.0/8, ::1) are processes on this machine — local tools,
        /// test networks — and are not held to ``maxInboundPerIP`` (still to the inbound cap).
        public var perIPCapExemptsLoopback = true
        /// An established connection with no stream and no stream traffic for this long
        /// is closed (nil: never). Peers passed to ``keepAlive(_:_:)`` are exempt.
        public var idleTimeout: Duration? = .seconds(120)
        /// Inbound bytes held for applications per connection, across its streams
        /// (received, not yet read); a stream whose data would exceed it is reset.
        public var maxBufferedReceiveBytesPerConnection = 8 * 1024 * 1024
        /// The same across all connections of the node.
        public var maxBufferedReceiveBytesPerNode = 256 * 1024 * 1024
        /// Bytes written by applications and waiting for the peers' yamux windows, across
        /// all connections (per connection: `yamux.maxPendingSendBytesTotal`); a write
        /// beyond it fails with ``P2PError/limitExceeded(_:)``.
        public var maxPendingSendBytesPerNode = 256 * 1024 * 1024
        /// The yamux session settings of every connection (streams, send buffers).
        public var yamux = YamuxSession.Configuration()
        /// The node's one clock and random source, read by every shell (SPEC §8.1; STYLE §1):
        /// inject a ``ManualNetworkClock`` and a seeded ``NetworkRandom`` to run a node on simulated time.
        public var clock: NetworkClock = .system()
        public var random: NetworkRandom = .system()
        public init() {}
    }

    public let identity: PeerKeyPair
    public let configuration: Configuration
    private let group: any EventLoopGroup
    private let logger: Logger
    private let state = Mutex(State())
    private let inboundBudget: MemoryBudget
    private let sendBudget: MemoryBudget

    private struct State {
        var handlers: [String: StreamHandler] = [:]
        var listeners: [any Channel] = []
        var listenAddresses: [Multiaddr] = []
        var connections: [PeerID: [P2PConnection]] = [:]
        var inboundTasks: [Int: Task<Void, Never>] = [:]
        var nextTaskID = 0
        var observers: [ConnectionObserver] = []
        var inboundSockets = 0
        var outboundSockets = 0
        var inboundPerIP: [String: Int] = [:]
        /// Peers exempt from the idle timeout, with a count per caller.
        var keptAlive: [PeerID: Int] = [:]
        /// After ``shutdown()`` the host dials nothing and keeps no new connection.
        var shutDown = false
    }

    public init(identity: PeerKeyPair, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                configuration: Configuration = .init(), logger: Logger = Logger(label: "vivim.p2p")) {
        self.identity = identity
        self.group = group
        self.configuration = configuration
        self.inboundBudget = MemoryBudget(limit: configuration.maxBufferedReceiveBytesPerNode)
        self.sendBudget = MemoryBudget(limit: configuration.maxPendingSendBytesPerNode)
        var logger = logger
        logger[metadataKey: "peer"] = "\(identity.peerID)"
        self.logger = logger
        handle(IdentifyMessage.protocolID) { [weak self] stream in
            guard let self else { return }
            try await stream.write(VarintFrame.encode(self.identifyMessage(for: stream.connection).encoded))
            stream.closeWrite()
        }
        handle(PingProtocol.protocolID) { stream in
            var reader = StreamReader(stream)
            // Echo until the dialer closes; each round is bounded by the peer's pace.
            while true {
                let payload: [UInt8]
                do { payload = try await reader.readExactly(PingProtocol.payloadLength) } catch { return }
                try await stream.write(payload)
            }
        }
    }

    public var peerID: PeerID { identity.peerID }

    /// Registers (or replaces) the handler for inbound streams of `protocolID`.
    public func handle(_ protocolID: String, _ handler: @escaping StreamHandler) {
        state.withLock { $0.handlers[protocolID] = handler }
    }

    /// Calls `observer` for every connection established or closed from now on
    /// (on a NIO event loop: it must not block).
    public func observeConnections(_ observer: @escaping ConnectionObserver) {
        state.withLock { $0.observers.append(observer) }
    }

    public var supportedProtocols: [String] { state.withLock { $0.handlers.keys.sorted() } }
    public var listenAddresses: [Multiaddr] { state.withLock { $0.listenAddresses } }

    public func connections(to peer: PeerID) -> [P2PConnection] {
        state.withLock { $0.connections[peer] ?? [] }.filter(\.isActive)
    }

    func identifyMessage(for connection: P2PConnection) -> IdentifyMessage {
        IdentifyMessage(
            publicKey: identity.publicKey,
            listenAddrs: listenAddresses,
            protocols: supportedProtocols,
            observedAddr: connection.remoteAddress.flatMap(Self.multiaddr(for:)),
            agentVersion: configuration.agentVersion)
    }

    static func multiaddr(for address: SocketAddress) -> Multiaddr? {
        guard let ip = address.ipAddress, let port = address.port else { return nil }
        return try? Multiaddr.tcp(host: ip, port: UInt16(port))
    }

    // MARK: listening and dialling

    /// Starts listening; returns the bound address including `/p2p/<id>`.
    @discardableResult
    public func listen(host: String = "127.0.0.1", port: Int = 0) async throws -> Multiaddr {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [weak self] channel in
                guard let self else { return channel.eventLoop.makeSucceededVoidFuture() }
                guard self.admit(channel, inbound: true) else {
                    channel.close(promise: nil)
                    return channel.eventLoop.makeSucceededVoidFuture()
                }
                // Do not wait for the upgrade here: the channel only becomes active after this future.
                _ = self.setUp(channel, role: .listener, expectedRemote: nil)
                return channel.eventLoop.makeSucceededVoidFuture()
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        guard let local = channel.localAddress, let addr = Self.multiaddr(for: local) else {
            try await channel.close()
            throw P2PError.invalidAddress("cannot describe listen address")
        }
        let full = addr.appending(.p2p(peerID))
        state.withLock {
            $0.listeners.append(channel)
            $0.listenAddresses.append(addr)
        }
        logger.debug("listening", metadata: ["address": "\(full)"])
        return full
    }

    /// Dials a TCP multiaddr; if it carries `/p2p/<id>` the remote must prove that identity.
    public func dial(_ address: Multiaddr) async throws -> P2PConnection {
        guard let (host, port) = address.tcpEndpoint else { throw P2PError.invalidAddress("\(address)") }
        guard !state.withLock({ $0.shutDown }) else { throw P2PError.connectionClosed }
        // The handler must be in the pipeline before the socket becomes active: the
        // listener may send its multistream header before `connect` returns.
        let loop = group.next()
        let ready = loop.makePromise(of: P2PConnection.self)
        let expected = address.peerID
        let connect = ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(5))
            .channelInitializer { [weak self] channel in
                guard let self else { return channel.eventLoop.makeFailedFuture(P2PError.connectionClosed) }
                guard self.admit(channel, inbound: false) else {
                    return channel.eventLoop.makeFailedFuture(P2PError.limitExceeded("\(self.configuration.maxOutboundConnections) outbound connections"))
                }
                self.setUp(channel, role: .dialer, expectedRemote: expected).cascade(to: ready)
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            .connect(host: host, port: Int(port))
        connect.whenFailure { ready.fail($0) }
        return try await ready.futureResult.get()
    }

    /// Counts a socket against the inbound or outbound cap (and an inbound one against
    /// its IP's cap); false when full.
    private func admit(_ channel: any Channel, inbound: Bool) -> Bool {
        let ip = inbound ? channel.remoteAddress.flatMap { address -> String? in
            guard let ip = address.ipAddress else { return nil }
            return configuration.perIPCapExemptsLoopback && Self.isLoopback(ip) ? nil : ip
        } : nil
        let admitted = state.withLock { s -> Bool in
            guard !s.shutDown else { return false }
            if inbound {
                guard s.inboundSockets < configuration.maxInboundConnections else { return false }
                if let ip {
                    guard s.inboundPerIP[ip, default: 0] < configuration.maxInboundPerIP else { return false }
                    s.inboundPerIP[ip, default: 0] += 1
                }
                s.inboundSockets += 1
            } else {
                guard s.outboundSockets < configuration.maxOutboundConnections else { return false }
                s.outboundSockets += 1
            }
            return true
        }
        if admitted {
            channel.closeFuture.whenComplete { [weak self] _ in
                self?.state.withLock { s in
                    if inbound {
                        s.inboundSockets -= 1
                        if let ip {
                            s.inboundPerIP[ip, default: 1] -= 1
                            if s.inboundPerIP[ip] == 0 { s.inboundPerIP[ip] = nil }
                        }
                    } else {
                        s.outboundSockets -= 1
                    }
                }
            }
        }
        return admitted
    }

    static func isLoopback(_ ip: String) -> Bool {
        ip.hasPrefix("127.") || ip == "::1" || ip.hasPrefix("::ffff:127.")
    }

    /// Sockets currently open (handshaking or established), both directions.
    public var openConnectionCount: Int { state.withLock { $0.inboundSockets + $0.outboundSockets } }
    /// Inbound sockets currently open.
    public var inboundConnectionCount: Int { state.withLock { $0.inboundSockets } }
    /// Inbound bytes currently held for applications across the node.
    var bufferedInboundBytes: Int { inboundBudget.inUse }
    /// Written bytes waiting for window credit across the node.
    var pendingSendBytes: Int { sendBudget.inUse }

    /// Exempts connections to `peer` from the idle timeout while at least one caller
    /// keeps it (`true`), e.g. the connection manager for bootstrap peers.
    public func keepAlive(_ peer: PeerID, _ on: Bool) {
        state.withLock { s in
            if on { s.keptAlive[peer, default: 0] += 1 } else if let n = s.keptAlive[peer] {
                s.keptAlive[peer] = n > 1 ? n - 1 : nil
            }
        }
    }

    private func isKeptAlive(_ peer: PeerID) -> Bool { state.withLock { $0.keptAlive[peer] != nil } }

    /// A live connection to `peer`, or a new one dialled at the first of `addresses` that
    /// answers (each tried in turn; `/p2p/<id>` is set to `peer`, so the remote must prove
    /// it). The one "reuse or dial" helper of the services (issue 11).
    public func connection(to peer: PeerID, addresses: [Multiaddr]) async throws -> P2PConnection {
        if let existing = connections(to: peer).first { return existing }
        let candidates = addresses.filter { $0.tcpEndpoint != nil && ($0.peerID == nil || $0.peerID == peer) }
        guard !candidates.isEmpty else { throw P2PError.invalidAddress("no TCP address for \(peer)") }
        var lastError: any Error = P2PError.invalidAddress("no TCP address for \(peer)")
        for address in candidates {
            do {
                return try await dial(address.withoutPeerID.appending(.p2p(peer)))
            } catch {
                lastError = error
                // Another task may have connected meanwhile.
                if let existing = connections(to: peer).first { return existing }
            }
        }
        throw lastError
    }

    private func setUp(_ channel: any Channel, role: SecureConnection.Role, expectedRemote: PeerID?) -> EventLoopFuture<P2PConnection> {
        let ready = channel.eventLoop.makePromise(of: P2PConnection.self)
        let machine = SecureConnection(role: role, identity: identity, expectedRemote: expectedRemote,
                                       yamux: configuration.yamux)
        let limits = ConnectionHandler.Limits(
            maxBufferedReceiveBytes: configuration.maxBufferedReceiveBytesPerConnection,
            budget: inboundBudget, sendBudget: sendBudget, idleTimeout: configuration.idleTimeout,
            keepAlive: { [weak self] peer in self?.isKeptAlive(peer) ?? false })
        let handler = ConnectionHandler(machine: machine, ready: ready, limits: limits, logger: logger) { [weak self] stream, conn in
            self?.dispatchInbound(stream)
        }
        // Covers a peer that sends nothing and one that stalls mid-handshake alike.
        let timeout = channel.eventLoop.scheduleTask(in: .nanoseconds(configuration.handshakeTimeout.saturatingNanoseconds)) {
            ready.fail(P2PError.timeout)
            channel.close(promise: nil)
        }
        ready.futureResult.whenComplete { [weak self] result in
            timeout.cancel()
            if case .success(let conn) = result { self?.register(conn) }
        }
        do {
            try channel.pipeline.syncOperations.addHandler(handler)
        } catch {
            ready.fail(error)
        }
        return ready.futureResult
    }

    private func register(_ connection: P2PConnection) {
        let observers: [ConnectionObserver]? = state.withLock { s in
            // A handshake that finished after shutdown: do not keep the connection.
            guard !s.shutDown else { return nil }
            s.connections[connection.remotePeer, default: []].append(connection)
            return s.observers
        }
        guard let observers else {
            connection.channel.close(promise: nil)
            return
        }
        for o in observers { o(.connected(connection)) }
        connection.channel.closeFuture.whenComplete { [weak self] _ in
            let observers: [ConnectionObserver] = self?.state.withLock { s in
                s.connections[connection.remotePeer]?.removeAll { $0.channel === connection.channel }
                if s.connections[connection.remotePeer]?.isEmpty == true { s.connections[connection.remotePeer] = nil }
                return s.observers
            } ?? []
            for o in observers { o(.disconnected(connection)) }
        }
    }

    private func dispatchInbound(_ stream: P2PStream) {
        let supported = supportedProtocols
        let timeout = configuration.streamNegotiationTimeout
        let id = state.withLock { s -> Int in s.nextTaskID += 1; return s.nextTaskID }
        let task = Task { [weak self] in
            defer { self?.state.withLock { _ = $0.inboundTasks.removeValue(forKey: id) } }
            guard let self else { return }
            do {
                let handler = stream.connection.handler, streamID = stream.id
                let timer = stream.connection.eventLoop.scheduleTask(in: .nanoseconds(timeout.saturatingNanoseconds)) {
                    handler.value.reset(streamID)
                }
                let negotiated = try await Self.negotiateInbound(stream, supported: supported)
                timer.cancel()
                guard let handler = self.state.withLock({ $0.handlers[negotiated.protocolID ?? ""] }) else { return }
                try await handler(negotiated)
                // Handlers may leave the stream open; once they return, it is done.
                negotiated.close()
            } catch {
                self.logger.trace("inbound stream ended", metadata: ["error": "\(error)"])
                stream.reset()
            }
        }
        state.withLock { $0.inboundTasks[id] = task }
    }

    static func negotiateInbound(_ stream: P2PStream, supported: [String]) async throws -> P2PStream {
        var ms = MultistreamSelect(role: .responder(supported: supported))
        try await stream.write(ms.start())
        for _ in 0..<(MultistreamSelect.maxAttempts * 2) {
            guard let chunk = try await stream.read() else { throw P2PError.unexpectedEOF }
            let step = try ms.receive(chunk)
            if !step.output.isEmpty { try await stream.write(step.output) }
            if let p = step.negotiated {
                stream.unread(step.remainder)
                return P2PStream(id: stream.id, connection: stream.connection, protocolID: p)
            }
        }
        throw P2PError.negotiationFailed("too many messages")
    }

    /// Closes listeners and connections and cancels stream handlers; the host then
    /// refuses to dial and drops connections whose handshake completes afterwards.
    public func shutdown() async {
        let (listeners, connections, tasks) = state.withLock { s in
            s.shutDown = true
            defer { s.listeners = []; s.connections = [:]; s.inboundTasks = [:] }
            return (s.listeners, s.connections.values.flatMap { $0 }, Array(s.inboundTasks.values))
        }
        for l in listeners { try? await l.close() }
        for c in connections { await c.close() }
        for t in tasks { t.cancel() }
    }
}


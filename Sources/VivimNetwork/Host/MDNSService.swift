import Logging
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The UDP shell of ``MDNSDiscovery``: one datagram socket on the mDNS port
/// (SO_REUSEADDR + SO_REUSEPORT, so several nodes and other responders share it),
/// joined to the multicast group on the chosen interface with multicast loopback
/// on (nodes on one host see each other). It feeds received datagrams and the
/// time to the state machine, multicasts what it returns, and reports discovered
/// peers on ``events``.
public actor MDNSService {
    public struct Configuration: Sendable {
        /// The multicast group: `224.0.0.251` (RFC 6762 §3) or `ff02::fb` for IPv6 (then an
        /// ``interface`` is required, the group being link-local).
        public var groupAddress = "224.0.0.251"
        public var port = 5353
        /// Interface name to join the group on and send from (`eth0`, `lo`); nil leaves the
        /// choice to the kernel's route to the group.
        public var interface: String?
        /// Multicast our own datagrams back to this host (other nodes on it listen too).
        public var multicastLoop = true
        /// The state machine's intervals, TTLs and caps.
        public var discovery = MDNSDiscovery.Configuration()
        /// Longest sleep between two ticks of the state machine.
        public var maxTickInterval: Duration = .milliseconds(250)
        public init() {}
    }

    public enum Event: Sendable, Equatable {
        /// A peer found on the local network, with its TCP addresses (each ending in `/p2p/<peer>`).
        case discovered(PeerID, [Multiaddr])
        /// Its records expired or it said goodbye.
        case expired(PeerID)
    }

    public enum Error: Swift.Error, Equatable {
        case invalidGroupAddress(String)
        case unknownInterface(String)
        case notStarted
    }

    public nonisolated let configuration: Configuration
    /// Discoveries and expiries, for one consumer; ends when the service stops.
    public nonisolated let events: AsyncStream<Event>
    private let sink: AsyncStream<Event>.Continuation
    private let group: any EventLoopGroup
    private var machine: MDNSDiscovery
    private var channel: (any Channel)?
    private var destination: SocketAddress?
    private var tasks: [Task<Void, Never>] = []
    private var stopped = false
    private let clock: NetworkClock
    private let logger: Logger

    public init(localPeer: PeerID, listenAddresses: [Multiaddr] = [], configuration: Configuration = .init(),
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                clock: NetworkClock = .system(), random: NetworkRandom = .system(),
                logger: Logger = Logger(label: "vivim.mdns")) {
        self.configuration = configuration
        self.clock = clock
        self.group = group
        self.logger = logger
        var rng = random.generator
        machine = MDNSDiscovery(localPeer: localPeer, listenAddresses: listenAddresses,
                                configuration: configuration.discovery, rng: &rng)
        (events, sink) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(1024))
    }

    private var now: NetworkInstant { clock.now }

    /// Peers currently known from mDNS.
    public var discoveredPeers: [PeerID: MDNSDiscovery.DiscoveredPeer] { machine.peers }
    /// Addresses announced in our responses.
    public var announcedAddresses: [Multiaddr] { machine.listenAddresses }

    /// Replaces the announced addresses (unspecified hosts are expanded to the interfaces' addresses).
    public func setListenAddresses(_ addresses: [Multiaddr]) {
        machine.setListenAddresses(Self.expandingUnspecified(addresses))
    }

    /// Binds the socket, joins the group, sends the first query and announcement, and
    /// starts receiving and ticking.
    public func start() async throws {
        guard channel == nil, !stopped else { return }
        let groupAddress: SocketAddress
        do { groupAddress = try SocketAddress(ipAddress: configuration.groupAddress, port: configuration.port) } catch {
            throw Error.invalidGroupAddress(configuration.groupAddress)
        }
        let ipv6 = groupAddress.protocol == .inet6
        var device: NIONetworkDevice?
        if let name = configuration.interface {
            device = try System.enumerateDevices().first {
                $0.name == name && $0.address?.protocol == (ipv6 ? .inet6 : .inet)
            }
            guard device != nil else { throw Error.unknownInterface(name) }
        } else if ipv6 {
            throw Error.unknownInterface("an interface is required for an IPv6 group")
        }
        machine.setListenAddresses(Self.expandingUnspecified(machine.listenAddresses))

        let (inbound, inboundSink) = AsyncStream.makeStream(of: (bytes: [UInt8], port: Int?).self,
                                                            bufferingPolicy: .bufferingNewest(256))
        let reusePort = ChannelOptions.Types.SocketOption(level: .socket, name: .init(rawValue: SO_REUSEPORT))
        let channel = try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(reusePort, value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DatagramReceiver(sink: inboundSink))
                }
            }
            .bind(host: ipv6 ? "::" : "0.0.0.0", port: configuration.port).get()
        do {
            try await Self.joinGroup(channel, groupAddress, device: device, loop: configuration.multicastLoop)
        } catch {
            try? await channel.close()
            throw error
        }
        self.channel = channel
        destination = groupAddress
        logger.debug("mDNS listening", metadata: ["group": "\(configuration.groupAddress):\(configuration.port)",
                                                   "interface": "\(configuration.interface ?? "default")"])
        execute(machine.start(now: now))

        let port = configuration.port
        tasks.append(Task { [weak self] in
            for await datagram in inbound {
                // RFC 6762 §6: responses from a source port other than the mDNS port are ignored.
                let isResponse = datagram.bytes.count > 2 && datagram.bytes[2] & 0x80 != 0
                if isResponse && datagram.port != port { continue }
                await self?.received(datagram.bytes)
            }
        })
        let maxSleep = configuration.maxTickInterval
        tasks.append(Task { [weak self] in
            while !Task.isCancelled {
                guard let sleep = await self?.tick() else { return }
                try? await Task.sleep(for: min(max(sleep, .milliseconds(10)), maxSleep))
            }
        })
    }

    /// Says goodbye (our records with TTL 0), closes the socket and ends ``events``.
    public func stop() async {
        guard !stopped else { return }
        stopped = true
        for t in tasks { t.cancel() }
        tasks = []
        if let channel, let destination, let bye = machine.goodbye() {
            try? await channel.writeAndFlush(AddressedEnvelope(remoteAddress: destination, data: ByteBuffer(bytes: bye))).get()
        }
        try? await channel?.close()
        channel = nil
        sink.finish()
    }

    // MARK: driving the state machine

    private func received(_ bytes: [UInt8]) {
        guard !stopped else { return }
        execute(machine.receive(bytes, now: now))
    }

    /// Ticks and returns how long to wait for the next deadline.
    private func tick() -> Duration? {
        guard !stopped else { return nil }
        let t = now
        execute(machine.tick(now: t))
        return machine.nextDeadline.map { $0 - now } ?? configuration.maxTickInterval
    }

    private func execute(_ actions: [MDNSDiscovery.Action]) {
        for action in actions {
            switch action {
            case .send(let bytes):
                guard let channel, let destination else { continue }
                channel.writeAndFlush(AddressedEnvelope(remoteAddress: destination, data: ByteBuffer(bytes: bytes)), promise: nil)
            case .discovered(let peer, let addrs):
                logger.debug("mDNS discovered peer", metadata: ["peer": "\(peer)", "addrs": "\(addrs)"])
                sink.yield(.discovered(peer, addrs))
            case .expired(let peer):
                logger.debug("mDNS peer expired", metadata: ["peer": "\(peer)"])
                sink.yield(.expired(peer))
            }
        }
    }

    // MARK: socket set-up

    private static func joinGroup(_ channel: any Channel, _ group: SocketAddress, device: NIONetworkDevice?, loop: Bool) async throws {
        guard let multicast = channel as? any MulticastChannel, let options = channel as? any SocketOptionProvider else {
            throw Error.notStarted
        }
        try await multicast.joinGroup(group, device: device).get()
        if group.protocol == .inet6 {
            try await channel.setOption(ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_multicast_loop), value: loop ? 1 : 0).get()
            try await channel.setOption(ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_multicast_hops), value: 255).get()
            if let device { try await options.setIPv6MulticastIF(CUnsignedInt(device.interfaceIndex)).get() }
        } else {
            try await channel.setOption(.ipOption(.ip_multicast_loop), value: loop ? 1 : 0).get()
            // RFC 6762 §11: mDNS packets are sent with IP TTL 255.
            try await channel.setOption(.ipOption(.ip_multicast_ttl), value: 255).get()
            if case .v4(let address)? = device?.address {
                try await options.setIPMulticastIF(address.address.sin_addr).get()
            }
        }
    }

    /// `/ip4/0.0.0.0/…` and `/ip6/::/…` replaced by each up interface's address of that family
    /// (an unspecified address cannot be dialled by the peers that read it).
    static func expandingUnspecified(_ addresses: [Multiaddr]) -> [Multiaddr] {
        var out: [Multiaddr] = []
        for a in addresses {
            guard let first = a.components.first else { continue }
            let rest = Array(a.components.dropFirst())
            switch first {
            case .ip4([0, 0, 0, 0]):
                for ip in interfaceAddresses(ipv6: false) { out.append(Multiaddr([.ip4(ip)] + rest)) }
            case .ip6(let b) where b.allSatisfy({ $0 == 0 }):
                for ip in interfaceAddresses(ipv6: true) { out.append(Multiaddr([.ip6(ip)] + rest)) }
            default:
                out.append(a)
            }
        }
        return out
    }

    private static func interfaceAddresses(ipv6: Bool) -> [[UInt8]] {
        let devices = (try? System.enumerateDevices()) ?? []
        var out: [[UInt8]] = []
        for d in devices {
            switch d.address {
            case .v4(let a)? where !ipv6:
                let raw = a.address.sin_addr.s_addr  // network byte order
                let bytes = withUnsafeBytes(of: raw) { Array($0) }
                if !out.contains(bytes) { out.append(bytes) }
            case .v6(let a)? where ipv6:
                var sin6 = a.address
                let bytes = withUnsafeBytes(of: &sin6.sin6_addr) { Array($0) }
                // Link-local addresses need a zone, which a multiaddr cannot carry.
                if !(bytes[0] == 0xFE && bytes[1] & 0xC0 == 0x80) && !out.contains(bytes) { out.append(bytes) }
            default:
                continue
            }
        }
        return out
    }
}

/// Hands each received datagram (bytes and source port) to the service's stream.
private final class DatagramReceiver: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let sink: AsyncStream<(bytes: [UInt8], port: Int?)>.Continuation

    init(sink: AsyncStream<(bytes: [UInt8], port: Int?)>.Continuation) { self.sink = sink }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.data.readableBytes <= DNSMessage.maxMessageLength else { return }
        sink.yield((Array(envelope.data.readableBytesView), envelope.remoteAddress.port))
    }

    func channelInactive(context: ChannelHandlerContext) {
        sink.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Swift.Error) {
        // A datagram socket survives errors such as ICMP unreachable; keep reading.
    }
}

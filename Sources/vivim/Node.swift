import ArgumentParser
import Dispatch
import Foundation
import Logging
import VivimNetwork

/// `vivim node` (SPEC §13): runs a P2P node until SIGTERM or SIGINT.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run a VIVIM P2P node (libp2p: Kademlia DHT, gossipsub, replicated storage).",
        discussion: """
            Prints its peer id and one line per listen address, `listening <multiaddr>/p2p/<peer id>`, \
            then runs until SIGTERM or SIGINT. The node key is kept in <data-dir>/node.key (mode 0600), \
            bundles in <data-dir>/content.
            """)

    @Option(help: "P2P listen multiaddr; port 0 picks a free port (VIVIM_LISTEN).")
    var listen = environment("LISTEN") ?? "/ip4/127.0.0.1/tcp/4001"
    @Option(help: "Bootstrap peer multiaddr with /p2p/<peer id>, repeatable (VIVIM_BOOTSTRAP, comma-separated).")
    var bootstrap: [String] = environment("BOOTSTRAP").map { $0.split(separator: ",").map(String.init) } ?? []
    @Option(name: .customLong("data-dir"), help: "Data directory: node key and content store (VIVIM_DATA_DIR).")
    var dataDir = environment("DATA_DIR") ?? "./vivim-node"
    @Option(name: .customLong("type"), help: "Node type: bootstrap|relay|indexer|storage|edge|client|self-hosted (VIVIM_NODE_TYPE).")
    var nodeType = environment("NODE_TYPE") ?? "edge"
    @Option(name: .customLong("log-level"), help: "trace|debug|info|notice|warning|error|critical (VIVIM_LOG_LEVEL).")
    var logLevel = environment("LOG_LEVEL") ?? "info"
    @Flag(help: "Discover peers on the local network with mDNS (_p2p._udp.local, 224.0.0.251:5353) (VIVIM_MDNS=on).")
    var mdns = ["on", "1", "true", "yes"].contains(environment("MDNS")?.lowercased() ?? "")
    @Option(name: .customLong("mdns-interface"), help: "Network interface for mDNS (default: the route to 224.0.0.251) (VIVIM_MDNS_INTERFACE).")
    var mdnsInterface = environment("MDNS_INTERFACE")
    @Option(name: .customLong("status-interval"), help: "Print `vivim node: status connected=<n> known=<n>` every this many seconds (0 = never).")
    var statusInterval = 0

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("unknown log level \(logLevel)") }
        guard let type = VivimNode.NodeType(parsing: nodeType) else { throw ValidationError("unknown node type \(nodeType)") }
        let listenAddress: Multiaddr
        do { listenAddress = try Multiaddr(listen) } catch { throw ValidationError("invalid --listen \(listen): \(error)") }
        guard listenAddress.tcpEndpoint != nil else { throw ValidationError("--listen must be a /ip4|/ip6/…/tcp/… address") }
        var peers: [Multiaddr] = []
        for text in bootstrap {
            guard let address = try? Multiaddr(text), address.tcpEndpoint != nil, address.peerID != nil else {
                throw ValidationError("invalid --bootstrap \(text): expected /ip4/…/tcp/…/p2p/<peer id>")
            }
            peers.append(address)
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        raiseOpenFileLimit()

        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let identity = try NodeKeyStore.loadOrCreate(at: dataDir + "/node.key")
        var configuration = VivimNode.Configuration(contentDirectory: dataDir + "/content")
        configuration.listen = listenAddress
        configuration.bootstrap = peers
        configuration.nodeType = type
        if mdns {
            var settings = MDNSService.Configuration()
            settings.interface = mdnsInterface
            configuration.mdns = settings
        }
        let node = try VivimNode(identity: identity, configuration: configuration)

        // Install the handlers before starting, so a signal during start-up is not lost.
        let stop = SignalWaiter(signals: [SIGTERM, SIGINT])
        try await node.start()
        print("vivim node: peer id \(node.peerID) (type \(type.rawValue))")
        for address in await node.listenAddresses { print("listening \(address)") }
        fflush(nil)
        let status = statusInterval > 0 ? Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(statusInterval))
                let current = await node.status()
                print("vivim node: status connected=\(current.activeConnections) known=\(current.nodeCount - 1)")
                fflush(nil)
            }
        } : nil

        let signal = await stop.wait()
        status?.cancel()
        print("vivim node: received signal \(signal), shutting down")
        await node.shutdown()
        print("vivim node: stopped")
        fflush(nil)
    }
}

/// Waits for the first of `signals` (their default action is disabled meanwhile).
final class SignalWaiter: @unchecked Sendable {
    private let queue = DispatchQueue(label: "vivim.signals")
    private var sources: [any DispatchSourceSignal] = []
    private var received: Int32?
    private var waiter: CheckedContinuation<Int32, Never>?

    init(signals: [Int32]) {
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [weak self] in self?.fire(number) }
            source.resume()
            sources.append(source)
        }
    }

    private func fire(_ number: Int32) {
        guard received == nil else { return }
        received = number
        waiter?.resume(returning: number)
        waiter = nil
    }

    func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            queue.async {
                if let received = self.received { continuation.resume(returning: received) } else { self.waiter = continuation }
            }
        }
    }
}

import ArgumentParser
import Foundation
import Hummingbird
import Logging
import VivimNetwork
import VivimServer

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the VIVIM server (HTTP API and stores).")

    @Option(help: "Address to bind (VIVIM_HOST).") var host = environment("HOST") ?? "127.0.0.1"
    @Option(help: "Port to bind; 0 picks a free port (VIVIM_PORT).") var port = Int(environment("PORT") ?? "") ?? 8080
    @Option(name: .customLong("data-dir"), help: "Data directory (VIVIM_DATA_DIR).") var dataDir = environment("DATA_DIR") ?? "./vivim-data"
    @Option(name: .customLong("master-db"), help: "PostgreSQL URL; absent = embedded master store (VIVIM_MASTER_DB).")
    var masterDB: String?
    @Option(help: "P2P listen multiaddr; port 0 picks a free port (VIVIM_LISTEN).") var listen = environment("LISTEN") ?? "/ip4/127.0.0.1/tcp/4001"
    @Option(help: "Bootstrap peer multiaddr with /p2p/<peer id>, repeatable (VIVIM_BOOTSTRAP, comma-separated).")
    var bootstrap: [String] = environment("BOOTSTRAP").map { $0.split(separator: ",").map(String.init) } ?? []
    @Option(name: .customLong("node-type"), help: "P2P node type: bootstrap|relay|indexer|storage|edge|client|self-hosted (VIVIM_NODE_TYPE).")
    var nodeType = environment("NODE_TYPE") ?? "self-hosted"
    @Flag(help: "The node discovers peers on the local network with mDNS (VIVIM_MDNS=on).")
    var mdns = ["on", "1", "true", "yes"].contains(environment("MDNS")?.lowercased() ?? "")
    @Flag(name: .customLong("no-node"), help: "Run no P2P node; bundles are served from the local content store only (VIVIM_NODE=off).")
    var noNode = ["off", "0", "false", "no"].contains(environment("NODE")?.lowercased() ?? "")
    @Option(name: .customLong("log-level"), help: "trace|debug|info|notice|warning|error|critical (VIVIM_LOG_LEVEL).")
    var logLevel = environment("LOG_LEVEL") ?? "info"
    @Option(name: .customLong("token-lifetime"), help: "Access token lifetime in seconds (VIVIM_TOKEN_LIFETIME).")
    var tokenLifetime = Double(environment("TOKEN_LIFETIME") ?? "") ?? 3600

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("unknown log level \(logLevel)") }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.dataDirectory = dataDir
        configuration.masterDatabaseURL = masterDB ?? environment("MASTER_DB")
        configuration.logLevel = level
        configuration.tokenLifetime = tokenLifetime
        if !noNode {
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
            var node = ServerConfiguration.NodeSettings(listen: listenAddress, bootstrap: peers)
            node.nodeType = type
            if mdns { node.mdns = MDNSService.Configuration() }
            configuration.node = node
        }
        raiseOpenFileLimit()
        let server = try await VivimServerApp.make(configuration: configuration)
        let store = server.services.master.backendName
        let (host, dataDirectory) = (configuration.host, configuration.dataDirectory)
        var nodeLines: [String] = []
        if let node = server.services.network?.node {
            nodeLines.append("vivim: node peer id \(node.peerID) (type \(configuration.node?.nodeType.rawValue ?? ""))")
            for address in await node.listenAddresses { nodeLines.append("vivim: node listening \(address)") }
        } else {
            nodeLines.append("vivim: no P2P node (--no-node)")
        }
        let app = server.application { [nodeLines] boundPort in
            // Machine-readable first line: scripts and tests wait for it.
            print("vivim: listening on http://\(host):\(boundPort) (master store: \(store), data: \(dataDirectory))")
            for line in nodeLines { print(line) }
            fflush(nil)
        }
        try await app.runService()
    }
}

/// Each open user database holds three descriptors; lift the soft limit to the hard one.
func raiseOpenFileLimit() {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
    limit.rlim_cur = limit.rlim_max
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}

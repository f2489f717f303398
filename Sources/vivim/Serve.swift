import ArgumentParser
import Foundation
import Hummingbird
import Logging
import VivimServer

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the VIVIM server (HTTP API and stores).")

    @Option(help: "Address to bind (VIVIM_HOST).") var host = environment("HOST") ?? "127.0.0.1"
    @Option(help: "Port to bind; 0 picks a free port (VIVIM_PORT).") var port = Int(environment("PORT") ?? "") ?? 8080
    @Option(name: .customLong("data-dir"), help: "Data directory (VIVIM_DATA_DIR).") var dataDir = environment("DATA_DIR") ?? "./vivim-data"
    @Option(name: .customLong("master-db"), help: "PostgreSQL URL; absent = embedded master store (VIVIM_MASTER_DB).")
    var masterDB: String?
    @Option(help: "P2P listen multiaddr (VIVIM_LISTEN).") var listen = environment("LISTEN") ?? "/ip4/127.0.0.1/tcp/4001"
    @Option(help: "Bootstrap peer multiaddr, repeatable (VIVIM_BOOTSTRAP).") var bootstrap: [String] = environment("BOOTSTRAP").map { [$0] } ?? []
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
        raiseOpenFileLimit()
        let server = try await VivimServerApp.make(configuration: configuration)
        let store = server.services.master.backendName
        let (host, dataDirectory) = (configuration.host, configuration.dataDirectory)
        let app = server.application { boundPort in
            // Machine-readable first line: scripts and tests wait for it.
            print("vivim: listening on http://\(host):\(boundPort) (master store: \(store), data: \(dataDirectory))")
            fflush(nil)
        }
        if !bootstrap.isEmpty || listen != "/ip4/127.0.0.1/tcp/4001" {
            print("vivim: note: the P2P node (--listen \(listen)) is not part of this build yet; see README")
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

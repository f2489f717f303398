import Foundation
import Logging
import VivimCore
import VivimCrypto
import VivimNetwork
import VivimPipeline

/// How `vivim serve` runs (SPEC §13). Every flag has a `VIVIM_<NAME>` environment variable.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    /// 0 picks any free port (tests and benchmarks).
    public var port = 8080
    public var dataDirectory = "./vivim-data"
    /// PostgreSQL URL; nil runs the embedded master store in the data directory.
    public var masterDatabaseURL: String?
    public var logLevel: Logger.Level = .info
    /// Lifetime of access tokens (SPEC §1: one hour).
    public var tokenLifetime: TimeInterval = 3600
    /// Largest JSON body most routes accept.
    public var bodyLimit = 1 << 20
    /// Largest conversation import.
    public var importBodyLimit = 16 << 20
    /// Open per-user database handles kept at most.
    public var userDatabaseCacheSize = 256
    /// `iss` of issued tokens. Defaults to the server's own DID (the `did:vivim` of its
    /// token key), which stays the same whatever port or instance answers.
    public var issuer: String?
    /// The public base URL of share links (`<url>/s/<code>`); nil uses the request's Host.
    public var publicURL: String?
    /// How often the scheduler sweeps for due transitions and interrupted publishes.
    public var schedulerInterval: Duration = .seconds(1)
    /// Run the scheduler loop (tests drive `SchedulerService.tick()` themselves).
    public var runsScheduler = true
    /// scrypt cost for link passwords (log2 N); lower only in tests.
    public var passwordHashCost = PasswordHasher.standard.log2N
    /// Per-action limits overriding SPEC §10.3's defaults (benchmarks raise them).
    public var rateLimits: [RateLimitedAction: RateLimit] = [:]
    /// Publishing retries (SPEC §7.1: 3 retries, 1 s base, 30 s cap).
    public var publishRetry = RetryPolicy()
    /// The P2P node the server runs (SPEC §8, §13); nil runs none and distributes to the local
    /// content store only. `vivim serve` turns it on by default (`--no-node` / `VIVIM_NODE=off`
    /// turn it off); the library default is off so in-process tests and benchmarks open no
    /// P2P socket unless they ask for one (then with port 0).
    public var node: NodeSettings?

    public init() {}

    /// How the server's node listens, whom it joins, and the distributor's bounds.
    public struct NodeSettings: Sendable {
        /// TCP multiaddr to listen on; port 0 picks any free port.
        public var listen: Multiaddr
        /// Bootstrap peers, `/ip4/…/tcp/…/p2p/<peer id>`.
        public var bootstrap: [Multiaddr]
        public var nodeType: VivimNode.NodeType = .selfHosted
        /// mDNS discovery on the local network (`vivim serve --mdns`); nil = off.
        public var mdns: MDNSService.Configuration?
        /// Bound on one network operation of the distributor (publish, fetch, provider lookup);
        /// past it the operation counts as a transient failure and the pipeline retries.
        public var operationTimeout: Duration = .seconds(30)
        /// How long a publish waits for replicas to confirm before it answers (replication goes
        /// on afterwards; the providers endpoint shows the live count).
        public var replicationWait: Duration = .seconds(2)
        /// Adjusts the node's own configuration (tests scale timers down).
        public var tune: @Sendable (inout VivimNode.Configuration) -> Void = { _ in }

        public static let defaultListen = "/ip4/127.0.0.1/tcp/4001"

        public init(listen: Multiaddr? = nil, bootstrap: [Multiaddr] = []) {
            self.listen = listen ?? (try? Multiaddr(Self.defaultListen)) ?? Multiaddr([])
            self.bootstrap = bootstrap
        }

        /// Any free port on 127.0.0.1 (tests).
        public static var loopbackAnyPort: NodeSettings {
            NodeSettings(listen: try? Multiaddr("/ip4/127.0.0.1/tcp/0"))
        }
    }
}

import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import VivimCore
import VivimCrypto
import VivimNetwork
import VivimPipeline
import VivimStore

/// Everything the routes use, built once at start-up.
public struct ServerServices: Sendable {
    public let master: any MasterStore
    public let userDatabases: UserDatabaseManager
    public let clock: any WallClock
    let tokens: TokenService
    let auth: AuthService
    let circles: CircleService
    let audit: AuditTrail
    let metrics: ServerMetrics
    let limits: RateLimitService
    public let bundles: BundleStore
    public let pipeline: PublishingPipeline
    let publishingKeys: PublishingKeyService
    let circleKeys: CircleKeyService
    let sharing: SharingService
    let links: LinkService
    let content: ContentService
    let scheduler: SchedulerService
    /// The P2P node, when the configuration runs one.
    public let network: ServerNetwork?
    /// Services that run beside the HTTP server (the PostgreSQL pool shutdown).
    let backgroundServices: [any Service]
}

/// Reacts to membership changes: epoch keys (a removal rotates the epoch, a new member gets
/// every epoch) and condition-based expiry (a sweep right away).
final class SharingCircleEventSink: CircleEventSink, @unchecked Sendable {
    let logger: Logger
    let clock: any WallClock
    private let lock = NSLock()
    private var keys: CircleKeyService?
    private var scheduler: SchedulerService?

    init(logger: Logger, clock: any WallClock) {
        self.logger = logger
        self.clock = clock
    }

    func attach(keys: CircleKeyService, scheduler: SchedulerService) {
        lock.withLock {
            self.keys = keys
            self.scheduler = scheduler
        }
    }

    func circleEvent(_ event: CircleEvent) async {
        let (keys, scheduler) = lock.withLock { (self.keys, self.scheduler) }
        logger.debug("circle event", metadata: ["event": "\(event)"])
        do {
            switch event {
            case .memberAdded(let circle, let did):
                try await keys?.memberAdded(did, to: circle)
            case .memberRemoved(let circle, _):
                try await keys?.rotate(circle, now: clock.now)
                scheduler?.sweepSoon()
            case .memberChanged, .circleDeleted:
                break
            }
        } catch {
            logger.error("circle key update failed", metadata: ["event": "\(event)", "error": "\(error)"])
        }
    }
}

/// The VIVIM HTTP server: Hummingbird, the master store, the users' databases.
public struct VivimServerApp: Sendable {
    public let configuration: ServerConfiguration
    public let services: ServerServices
    let logger: Logger

    /// Opens the stores, runs migrations and loads (or creates) the token key.
    public static func make(configuration: ServerConfiguration, clock: any WallClock = SystemClock(),
                            master injectedMaster: (any MasterStore)? = nil) async throws -> VivimServerApp {
        var logger = Logger(label: "vivim.server")
        logger.logLevel = configuration.logLevel
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let master: any MasterStore
        var background: [any Service] = []
        if let injectedMaster {
            master = injectedMaster
        } else if let url = configuration.masterDatabaseURL {
            let postgres = try PostgresMasterStore(url: url, logger: logger)
            master = postgres
            background.append(PostgresShutdown(store: postgres))
        } else {
            master = try SQLiteMasterStore(path: (configuration.dataDirectory as NSString).appendingPathComponent("master.sqlite"))
        }
        do {
            try await master.migrate()
            return try await make(configuration: configuration, clock: clock, master: master, background: background, logger: logger)
        } catch {
            if let postgres = master as? PostgresMasterStore, injectedMaster == nil { await postgres.shutdown() }
            throw error
        }
    }

    static func make(configuration: ServerConfiguration, clock: any WallClock, master: any MasterStore,
                     background: [any Service], logger: Logger) async throws -> VivimServerApp {
        let userDatabases = try UserDatabaseManager(dataDirectory: configuration.dataDirectory, capacity: configuration.userDatabaseCacheSize)
        let signingKey = try await master.serverSigningKey(candidate: TokenService.candidateKey(at: clock.now))
        let tokens = try await TokenService(signingKey: signingKey, issuer: configuration.issuer)
        let audit = AuditTrail(master: master, clock: clock, logger: logger)
        let auth = AuthService(master: master, userDatabases: userDatabases, tokens: tokens, audit: audit, clock: clock,
                               tokenLifetime: configuration.tokenLifetime)
        let circleEvents = SharingCircleEventSink(logger: logger, clock: clock)
        let circles = CircleService(master: master, clock: clock, events: circleEvents)
        let metrics = ServerMetrics(registry: PrometheusCollectorRegistry())
        let box = SecretBox(serverSecret: signingKey.seed)
        let bundles = try BundleStore(dataDirectory: configuration.dataDirectory)
        var background = background
        let network = try await configuration.node.asyncMap {
            try await ServerNetwork.start($0, dataDirectory: configuration.dataDirectory, logger: logger)
        }
        let distributor: any Distributor
        if let network {
            distributor = NetworkDistributor(store: bundles, network: network, master: master, logger: logger)
            background.append(NetworkNodeService(network: network))
        } else {
            distributor = LocalDistributor(store: bundles)
        }
        let publishingKeys = PublishingKeyService(store: master, box: box)
        let circleKeys = CircleKeyService(store: master, box: box)
        let pipeline = PublishingPipeline(store: master, userDatabases: userDatabases, bundles: bundles, distributor: distributor,
                                          keys: publishingKeys, circleKeys: circleKeys, clock: clock, observer: metrics,
                                          retry: configuration.publishRetry, logger: logger)
        let scheduler = SchedulerService(master: master, pipeline: pipeline, clock: clock, interval: configuration.schedulerInterval, logger: logger)
        let sharing = SharingService(master: master, userDatabases: userDatabases, pipeline: pipeline, distributor: distributor, bundles: bundles,
                                     audit: audit, clock: clock, logger: logger)
        scheduler.attach(sharing)
        circleEvents.attach(keys: circleKeys, scheduler: scheduler)
        let limits = RateLimitService(limits: configuration.rateLimits, clock: clock)
        let content = ContentService(master: master, userDatabases: userDatabases, bundles: bundles, distributor: distributor, audit: audit,
                                     clock: clock, scheduler: scheduler, network: network, logger: logger)
        let links = LinkService(master: master, sharing: sharing, content: content, limits: limits, audit: audit, clock: clock,
                                hasher: PasswordHasher(log2N: configuration.passwordHashCost, blockSize: 8, parallelism: 1))
        let services = ServerServices(master: master, userDatabases: userDatabases, clock: clock, tokens: tokens, auth: auth,
                                      circles: circles, audit: audit, metrics: metrics, limits: limits, bundles: bundles, pipeline: pipeline,
                                      publishingKeys: publishingKeys, circleKeys: circleKeys, sharing: sharing, links: links, content: content,
                                      scheduler: scheduler, network: network, backgroundServices: background)
        return VivimServerApp(configuration: configuration, services: services, logger: logger)
    }

    /// The router with every route, and the list of routes it serves.
    public func buildRouter() -> (Router<VivimRequestContext>, [RouteDescriptor]) {
        let router = Router(context: VivimRequestContext.self)
        router.add(middleware: EnvelopeMiddleware(metrics: services.metrics, logger: logger))
        let routes = RouteBuilder(router: router, auth: services.auth, limits: services.limits, audit: services.audit)
        addSystemRoutes(routes)
        addAuthRoutes(routes)
        addUserRoutes(routes)
        addCircleRoutes(routes)
        addConversationRoutes(routes)
        addSharingRoutes(routes)
        addNetworkRoutes(routes)
        return (router, routes.descriptors)
    }

    /// The Hummingbird application; `onServerRunning` receives the bound port.
    public func application(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let (router, _) = buildRouter()
        var app = Application(
            router: router,
            server: .http1WebSocketUpgrade { request, _, logger in await self.webSocketUpgrade(request, logger) },
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "vivim"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
        app.addServices(services.backgroundServices)
        app.addServices(UserDatabaseJanitor(manager: services.userDatabases))
        if configuration.runsScheduler { app.addServices(services.scheduler) }
        return app
    }
}

/// Shuts the PostgreSQL pool down when the server stops.
struct PostgresShutdown: Service {
    let store: PostgresMasterStore
    func run() async throws {
        try? await gracefulShutdown()
        await store.shutdown()
    }
}

/// Closes user database handles that have been idle for a while.
struct UserDatabaseJanitor: Service {
    let manager: UserDatabaseManager
    func run() async throws {
        while !Task.isCancelledOrShuttingDown {
            // Wakes at once on graceful shutdown instead of finishing the minute.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(60)) }
            manager.closeIdle(olderThan: .seconds(300))
        }
        manager.closeAll()
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}

extension Task where Success == Never, Failure == Never {
    static var isCancelledOrShuttingDown: Bool { Task.isCancelled || Task.isShuttingDownGracefully }
}

extension VivimServerApp {
    /// One scheduler sweep now (tests with a `ManualClock`, benchmarks): due transitions and the
    /// publish outbox. Returns the number of due transitions.
    @discardableResult
    public func runSchedulerOnce() async throws -> Int {
        try await services.scheduler.tick()
    }

    /// Finishes or rolls back interrupted publishes (also part of every scheduler sweep).
    public func recoverPublishes() async {
        await services.pipeline.recover()
    }
}

extension VivimServerApp {
    /// The permission check of `GET /permissions/:id/check`, in process (benchmarks).
    public func checkPermission(_ permission: Permission, contentID: ContentID, asker: DID) async throws -> PermissionCheck {
        try await PermissionService(master: services.master, clock: services.clock).effective(contentID: contentID, owner: nil, asker: asker).check(permission)
    }
}

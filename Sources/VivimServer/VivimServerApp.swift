import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import VivimCore
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
    /// Services that run beside the HTTP server (the PostgreSQL pool shutdown).
    let backgroundServices: [any Service]
}

struct LoggingCircleEventSink: CircleEventSink {
    let logger: Logger
    func circleEvent(_ event: CircleEvent) async {
        logger.debug("circle event", metadata: ["event": "\(event)"])
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
        let circles = CircleService(master: master, clock: clock, events: LoggingCircleEventSink(logger: logger))
        let services = ServerServices(master: master, userDatabases: userDatabases, clock: clock, tokens: tokens, auth: auth,
                                      circles: circles, audit: audit, metrics: ServerMetrics(registry: PrometheusCollectorRegistry()),
                                      backgroundServices: background)
        return VivimServerApp(configuration: configuration, services: services, logger: logger)
    }

    /// The router with every route, and the list of routes it serves.
    public func buildRouter() -> (Router<VivimRequestContext>, [RouteDescriptor]) {
        let router = Router(context: VivimRequestContext.self)
        router.add(middleware: EnvelopeMiddleware(metrics: services.metrics, logger: logger))
        let routes = RouteBuilder(router: router, auth: services.auth)
        addSystemRoutes(routes)
        addAuthRoutes(routes)
        addUserRoutes(routes)
        addCircleRoutes(routes)
        addConversationRoutes(routes)
        return (router, routes.descriptors)
    }

    /// The Hummingbird application; `onServerRunning` receives the bound port.
    public func application(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let (router, _) = buildRouter()
        var app = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "vivim"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
        app.addServices(services.backgroundServices)
        app.addServices(UserDatabaseJanitor(manager: services.userDatabases))
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
            try? await Task.sleep(for: .seconds(60))
            manager.closeIdle(olderThan: .seconds(300))
        }
        manager.closeAll()
    }
}

extension Task where Success == Never, Failure == Never {
    static var isCancelledOrShuttingDown: Bool { Task.isCancelled || Task.isShuttingDownGracefully }
}

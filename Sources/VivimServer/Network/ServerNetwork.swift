import Foundation
import Logging
import ServiceLifecycle
import VivimNetwork
import VivimStore

/// The server's P2P node (SPEC §8) and what the HTTP layer keeps beside it: the event fan-out
/// of `WS /ws/network` and the content requests of `POST /network/content/:id/request`.
/// The node key lives in `<data-dir>/node.key` (mode 0600), its bundles in `<data-dir>/node/content`.
public final class ServerNetwork: Sendable {
    public let node: VivimNode
    public let settings: ServerConfiguration.NodeSettings
    let events: NetworkEventHub
    let requests: ContentRequestTracker

    init(node: VivimNode, settings: ServerConfiguration.NodeSettings, events: NetworkEventHub, requests: ContentRequestTracker) {
        self.node = node
        self.settings = settings
        self.events = events
        self.requests = requests
    }

    /// Loads (or creates) the node key, starts the node listening and dials the bootstrap peers.
    static func start(_ settings: ServerConfiguration.NodeSettings, dataDirectory: String, logger: Logger) async throws -> ServerNetwork {
        let directory = dataDirectory as NSString
        let identity = try NodeKeyStore.loadOrCreate(at: directory.appendingPathComponent("node.key"))
        let nodeDirectory = directory.appendingPathComponent("node")
        try FileManager.default.createDirectory(atPath: nodeDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        var configuration = VivimNode.Configuration(contentDirectory: (nodeDirectory as NSString).appendingPathComponent("content"))
        configuration.listen = settings.listen
        configuration.bootstrap = settings.bootstrap
        configuration.nodeType = settings.nodeType
        configuration.mdns = settings.mdns
        settings.tune(&configuration)
        var nodeLogger = logger
        nodeLogger[metadataKey: "component"] = "p2p"
        let node = try VivimNode(identity: identity, configuration: configuration, logger: nodeLogger)
        do {
            try await node.start()
        } catch {
            await node.shutdown()
            throw error
        }
        return ServerNetwork(node: node, settings: settings, events: NetworkEventHub(), requests: ContentRequestTracker())
    }

    public func shutdown() async {
        await requests.cancelAll()
        await node.shutdown()
    }

    /// Runs `body` for at most `settings.operationTimeout`; a timeout throws ``NetworkTimeout``.
    func bounded<T: Sendable>(_ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withTimeout(settings.operationTimeout, what, body)
    }
}

/// A network operation that did not finish in time.
struct NetworkTimeout: Error, CustomStringConvertible {
    var operation: String
    var description: String { "\(operation) timed out" }
}

/// The result of `body`, or ``NetworkTimeout`` after `limit` (the work is then cancelled and
/// left to finish on its own: a node call waiting on a peer must not hold the caller).
func withTimeout<T: Sendable>(_ limit: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let work = Task { try await body() }
    let gate = ResumeOnce<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            gate.install(continuation)
            let timer = Task {
                try? await Task.sleep(for: limit)
                guard !Task.isCancelled else { return }
                gate.resume(.failure(NetworkTimeout(operation: what)))
                work.cancel()
            }
            Task {
                let result = await work.result
                timer.cancel()
                gate.resume(result)
            }
        }
    } onCancel: {
        work.cancel()
    }
}

/// Resumes a continuation once, whichever of the work or the timer comes first.
final class ResumeOnce<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, any Error>?

    func install(_ continuation: CheckedContinuation<T, any Error>) { lock.withLock { self.continuation = continuation } }

    func resume(_ result: Result<T, any Error>) {
        let pending: CheckedContinuation<T, any Error>? = lock.withLock {
            defer { continuation = nil }
            return continuation
        }
        pending?.resume(with: result)
    }
}

/// Runs beside the HTTP server: feeds the node's events to the WebSocket fan-out and shuts the
/// node down with the server (graceful shutdown or cancellation).
struct NetworkNodeService: Service {
    let network: ServerNetwork

    func run() async throws {
        let events = network.events, node = network.node
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await events.run(node.events) }
            try? await gracefulShutdown()
            await network.shutdown()
            await events.finish()
        }
    }
}

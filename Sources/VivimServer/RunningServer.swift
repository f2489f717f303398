import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// A server started in this process on a real socket, for tests and benchmarks.
public final class RunningServer: Sendable {
    public let app: VivimServerApp
    public let port: Int
    let task: Task<Void, any Error>

    public var baseURL: String { "http://\(app.configuration.host):\(port)" }

    init(app: VivimServerApp, port: Int, task: Task<Void, any Error>) {
        self.app = app
        self.port = port
        self.task = task
    }

    /// Starts `app` and returns once it accepts connections.
    public static func start(_ app: VivimServerApp) async throws -> RunningServer {
        let (portStream, continuation) = AsyncStream.makeStream(of: Int.self)
        let application = app.application { port in continuation.yield(port) }
        let task = Task {
            defer { continuation.finish() }
            let group = ServiceGroup(services: [application], gracefulShutdownSignals: [], cancellationSignals: [],
                                     logger: Logger(label: "vivim.test-server"))
            try await group.run()
        }
        for await port in portStream {
            return RunningServer(app: app, port: port, task: task)
        }
        // The stream ended without a port: the server failed to start.
        _ = try await task.value
        throw CancellationError()
    }

    /// Stops the server and waits for it to finish.
    public func stop() async {
        task.cancel()
        _ = try? await task.value
        app.services.userDatabases.closeAll()
    }
}

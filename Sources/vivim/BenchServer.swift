import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOHTTP1
import Synchronization
import VivimClient
import VivimCore
import VivimCrypto
import VivimServer
import VivimStore

/// Runs `operation` from `concurrency` tasks for `duration`; returns completed operations
/// per second and per-operation latencies. Bounded in time and count.
func measureThroughput(concurrency: Int, duration: Duration, maxOperations: Int = 2_000_000,
                       _ operation: @escaping @Sendable (Int) async throws -> Void) async throws -> (rate: Double, samples: LatencySamples) {
    let issued = OperationCounter()
    let start = ContinuousClock.now
    let deadline = start + duration
    let perTask = try await withThrowingTaskGroup(of: LatencySamples.self) { group in
        for worker in 0..<concurrency {
            group.addTask {
                var samples = LatencySamples()
                while ContinuousClock.now < deadline {
                    let number = issued.count.add(1, ordering: .relaxed).newValue
                    guard number <= maxOperations else { break }
                    let begin = ContinuousClock.now
                    try await operation(worker)
                    samples.add(ContinuousClock.now - begin)
                }
                return samples
            }
        }
        var all: [LatencySamples] = []
        for try await samples in group { all.append(samples) }
        return all
    }
    let elapsed = (ContinuousClock.now - start).seconds
    var merged = LatencySamples()
    merged.values = perTask.flatMap(\.values)
    return (Double(merged.values.count) / elapsed, merged)
}

/// `vivim bench auth`: logins per second and authenticated reads per second, each next to
/// the trivial `/health` route on the same server in the same run.
struct AuthBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "auth")
    @OptionGroup var options: BenchOptions
    @Option(name: .customLong("master-db"), help: "PostgreSQL URL; absent = embedded master store (VIVIM_MASTER_DB).") var masterDB: String?
    @Option var concurrency = 16
    @Option(help: "Seconds per measurement.") var seconds: Double?

    func run() async throws {
        raiseOpenFileLimit()
        let duration = Duration.milliseconds(Int((seconds ?? (options.quick ? 1 : 5)) * 1000))
        let directory = NSTemporaryDirectory() + "vivim-bench-auth-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.dataDirectory = directory
        let masterDB = masterDB ?? environment("MASTER_DB")
        configuration.masterDatabaseURL = masterDB
        configuration.logLevel = .error
        let server = try await RunningServer.start(try await VivimServerApp.make(configuration: configuration))
        let http = HTTPClient(eventLoopGroupProvider: .singleton,
                              configuration: .init(connectionPool: .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: concurrency)))
        let anonymous = VivimAPIClient(baseURL: server.baseURL, http: http)

        // Users, each with one imported 50-message conversation.
        var prepared: [(VivimAPIClient, String, SigningIdentity)] = []
        for index in 0..<concurrency {
            let identity = SigningIdentity()
            let device = try DeviceID(parsing: "bench-\(index)")
            try await anonymous.register(identity: identity, encryptionKey: try EncryptionKeyPair.generate().publicKey, deviceID: device)
            let (client, _, _) = try await anonymous.login(identity: identity, deviceID: device)
            let imported = try await client.send(.POST, "/api/v1/conversations", body: sampleConversationJSON(messages: 50))
            prepared.append((client, imported.data["id"]?.string ?? "", identity))
        }
        let sessions = prepared
        let health = try await measureThroughput(concurrency: concurrency, duration: duration) { _ in
            try await anonymous.send(.GET, "/health")
        }
        let logins = try await measureThroughput(concurrency: concurrency, duration: duration) { worker in
            _ = try await anonymous.login(identity: sessions[worker].2)
        }
        let reads = try await measureThroughput(concurrency: concurrency, duration: duration) { worker in
            try await sessions[worker].0.send(.GET, "/api/v1/conversations/\(sessions[worker].1)")
        }
        await server.stop()
        try await http.shutdown()
        let store = masterDB == nil ? "sqlite" : "postgresql"
        BenchReport(suite: "auth", machine: BenchReport.machine + ", master \(store), concurrency \(concurrency)", results: [
            BenchFigure(name: "GET /health (trivial route)", value: health.rate, unit: "req/s",
                        p50: health.samples.percentileMilliseconds(0.5), p99: health.samples.percentileMilliseconds(0.99)),
            BenchFigure(name: "login (challenge + verify)", value: logins.rate, unit: "logins/s",
                        p50: logins.samples.percentileMilliseconds(0.5), p99: logins.samples.percentileMilliseconds(0.99),
                        baseline: health.rate, ratio: logins.rate / health.rate),
            BenchFigure(name: "GET /api/v1/conversations/:id (authenticated, 50 messages)", value: reads.rate, unit: "req/s",
                        p50: reads.samples.percentileMilliseconds(0.5), p99: reads.samples.percentileMilliseconds(0.99),
                        baseline: health.rate, ratio: reads.rate / health.rate),
        ]).print(json: options.json)
    }
}

/// `vivim bench import`: 50-message conversations per second into one user's file.
struct ImportBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "import")
    @OptionGroup var options: BenchOptions
    @Option var conversations: Int?

    func run() async throws {
        let count = conversations ?? (options.quick ? 50 : 1_000)
        let directory = NSTemporaryDirectory() + "vivim-bench-import-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var results: [BenchFigure] = []
        for durable in [true, false] {
            let manager = try UserDatabaseManager(dataDirectory: directory + (durable ? "/full" : "/normal"), durable: durable)
            let database = try manager.create(for: SigningIdentity().did)
            let input = sampleConversation(messages: 50)
            var samples = LatencySamples()
            let start = ContinuousClock.now
            for _ in 0..<count {
                let begin = ContinuousClock.now
                _ = try await database.importConversation(input, at: Date())
                samples.add(ContinuousClock.now - begin)
            }
            let rate = Double(count) / (ContinuousClock.now - start).seconds
            results.append(BenchFigure(name: "import 50-message conversation, synchronous=\(durable ? "FULL (default)" : "NORMAL")",
                                       value: rate, unit: "conversations/s",
                                       p50: samples.percentileMilliseconds(0.5), p99: samples.percentileMilliseconds(0.99)))
            manager.closeAll()
        }
        BenchReport(suite: "import", machine: BenchReport.machine, results: results).print(json: options.json)
    }
}

func sampleConversation(messages: Int) -> ConversationInput {
    ConversationInput(provider: "bench", sourceURL: nil, title: "Benchmark", model: "m", createdAt: nil, messages: (0..<messages).map { index in
        MessageInput(role: index % 2 == 0 ? .user : .assistant, parts: [.text(sampleMessageText(index))])
    })
}

func sampleMessageText(_ index: Int) -> String {
    """
    Message \(index). Peer-to-peer sharing needs clear intent: who sees what, for how long, with which rights.

    - encrypt the bundle with a fresh key
    - wrap the key for each recipient

    ```swift
    let key = SymmetricKey(size: .bits256) // \(index)
    ```
    """
}

func sampleConversationJSON(messages: Int) -> Data {
    let list = (0..<messages).map { index in
        ["role": index % 2 == 0 ? "user" : "assistant", "content": sampleMessageText(index)]
    }
    let body: [String: Any] = ["provider": "bench", "title": "Benchmark", "model": "m", "messages": list]
    return (try? JSONSerialization.data(withJSONObject: body)) ?? Data()
}

final class OperationCounter: Sendable {
    let count = Atomic<Int>(0)
}

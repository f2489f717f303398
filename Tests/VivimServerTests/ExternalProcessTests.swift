import Foundation
import Testing
import VivimClient
import VivimCore
import VivimCrypto
import VivimTestSupport

/// Locations of things outside the test bundle.
enum Paths {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `vivim` executable built next to this test bundle (scripts/test.sh builds it).
    static func vivimExecutable() throws -> String {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("vivim").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        for build in [".build/debug/vivim", ".build/release/vivim"] {
            let candidate = repository.appendingPathComponent(build).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw CLIFailure("the vivim executable is not built; run scripts/test.sh (it runs swift build --build-tests first)")
    }
}

struct CLIFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A `vivim serve` process on a free port.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    let output = Pipe()
    var port = 0

    init(dataDirectory: String, masterDB: String? = nil, environment: [String: String] = [:], logLevel: String = "error",
         logFile: String? = nil) throws {
        process.executableURL = URL(fileURLWithPath: try Paths.vivimExecutable())
        // The P2P node on any free port: concurrent servers must not race for the default 4001.
        process.arguments = ["serve", "--port", "0", "--listen", "/ip4/127.0.0.1/tcp/0", "--data-dir", dataDirectory, "--log-level", logLevel]
            + (masterDB.map { ["--master-db", $0] } ?? [])
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = output
        if let logFile {
            FileManager.default.createFile(atPath: logFile, contents: nil)
            process.standardError = FileHandle(forWritingAtPath: logFile)
        } else {
            process.standardError = FileHandle.nullDevice
        }
    }

    /// Starts it and waits (at most 60 s) for the line announcing the port.
    func start() throws {
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        var buffer = ""
        while Date() < deadline {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            buffer += String(decoding: chunk, as: UTF8.self)
            if let range = buffer.range(of: #"listening on http://127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                port = Int(buffer[range].split(separator: ":").last ?? "") ?? 0
                return
            }
        }
        process.terminate()
        throw CLIFailure("vivim serve did not start: \(buffer)")
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func terminate() -> Int32 {
        process.terminate()
        process.waitUntilExit()
        return process.terminationStatus
    }
}

@Suite(.serialized) struct ExternalProcessTests {
    /// A client in another language, written from SPEC.md alone, against a live server.
    @Test func outsidePythonClientWorksEndToEnd() async throws {
        try await Harness.with(.sqlite) { harness in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", Paths.repository.appendingPathComponent("Tests/clients/outside_client.py").path, harness.baseURL]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "\(output)")
            #expect(output.contains("outside client: ok"))
        }
    }

    /// SIGKILL during imports loses no acknowledged write and leaves no corrupt file.
    @Test func killingTheServerDuringImportsLosesNothingAcknowledged() async throws {
        let directory = TestDatabases.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try ServerProcess(dataDirectory: directory)
        try first.start()
        let anonymous = VivimAPIClient(baseURL: first.baseURL)
        let identity = SigningIdentity()
        try await anonymous.register(identity: identity, encryptionKey: try EncryptionKeyPair.generate().publicKey, deviceID: DeviceID(trusted: "d"))
        let (client, _, _) = try await anonymous.login(identity: identity)
        let body = try JSONEncoder().encode(ConversationAPI.sample)

        let acknowledged = AcknowledgedIDs()
        // Eight concurrent importers; the server is killed while they run.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<400 {
                        guard let response = try? await client.send(.POST, "/api/v1/conversations", body: body),
                              let id = response.data["id"]?.string else { return }
                        acknowledged.add(id)
                    }
                }
            }
            group.addTask {
                while acknowledged.count < 40 { try await Task.sleep(for: .milliseconds(20)) }
                first.kill9()
            }
            try await group.waitForAll()
        }
        let saved = acknowledged.all
        #expect(saved.count >= 40)

        let second = try ServerProcess(dataDirectory: directory)
        try second.start()
        let (restarted, _, _) = try await VivimAPIClient(baseURL: second.baseURL).login(identity: identity)
        for id in saved {
            let conversation = try await restarted.send(.GET, "/api/v1/conversations/\(id)").data
            #expect(conversation["messages"]?.array?.count == 3)
        }
        let listed = try await restarted.send(.GET, "/api/v1/conversations?pageSize=1").meta?["pagination"]?["totalItems"]?.number ?? 0
        #expect(Int(listed) >= saved.count)
        #expect(second.terminate() == 0)  // SIGTERM shuts down cleanly

        // Every database file is intact.
        let users = try UserDatabaseManagerProbe.integrity(directory: directory, did: identity.did)
        #expect(users == ["ok", "ok"])
    }
}

final class AcknowledgedIDs: @unchecked Sendable {
    private let lock = NSLock()
    private var ids: [String] = []
    func add(_ id: String) { lock.withLock { ids.append(id) } }
    var count: Int { lock.withLock { ids.count } }
    var all: [String] { lock.withLock { ids } }
}

import GRDB
import VivimStore
enum UserDatabaseManagerProbe {
    /// `PRAGMA integrity_check` of the user's file and of the embedded master store.
    static func integrity(directory: String, did: DID) throws -> [String] {
        let userPath = try UserDatabaseManager(dataDirectory: directory).path(for: did)
        return try [userPath, directory + "/master.sqlite"].map { path in
            try DatabaseQueue(path: path).read { try String.fetchOne($0, sql: "PRAGMA integrity_check") ?? "" }
        }
    }
}

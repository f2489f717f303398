import Foundation
import Synchronization
import Testing
@testable import VivimNetwork

/// A `vivim node` child process on 127.0.0.1: stdout collected line by line, every
/// wait bounded, `kill()` always reaps it.
final class NodeProcess: Sendable {
    /// The `vivim` executable next to this test bundle, or in the package's .build directory.
    static func executable() throws -> String {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("vivim").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for build in [".build/debug/vivim", ".build/release/vivim"] {
            let candidate = repository.appendingPathComponent(build).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw TestError(description: "the vivim executable is not built; run `swift build --build-tests` (or scripts/test.sh) first")
    }

    let process = Process()
    private let lines = PyProcess.Locked([String]())
    private let partial = PyProcess.Locked("")

    convenience init(executable: String, dataDirectory: String, bootstrap: Multiaddr, type: String = "storage") throws {
        try self.init(launching: executable, ["node", "--listen", "/ip4/127.0.0.1/tcp/0", "--bootstrap", "\(bootstrap)",
                                              "--data-dir", dataDirectory, "--type", type, "--log-level", "error"])
    }

    /// Runs `path` with `arguments` (e.g. `vivim node …`, or `ip netns exec NS vivim node …`).
    init(launching path: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        out.fileHandleForReading.readabilityHandler = { [lines, partial] handle in
            let text = String(decoding: handle.availableData, as: UTF8.self)
            let complete: [String] = partial.withLock { p in
                let parts = (p + text).split(separator: "\n", omittingEmptySubsequences: false)
                p = String(parts.last ?? "")
                return parts.dropLast().map(String.init)
            }
            lines.withLock { $0 += complete }
        }
        try process.run()
    }

    /// The `listening <multiaddr>/p2p/<peer id>` line, parsed (bounded wait).
    func listenAddress(within limit: Duration = .seconds(30)) async throws -> Multiaddr {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if let line = lines.withLock({ $0.first { $0.hasPrefix("listening ") } }) {
                return try Multiaddr(String(line.dropFirst("listening ".count)))
            }
            guard process.isRunning else { throw TestError(description: "vivim node exited (\(process.terminationStatus)) before listening") }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestError(description: "vivim node did not print its listen address within \(limit)")
    }

    var output: [String] { lines.withLock { $0 } }

    /// SIGKILL and reap (idempotent).
    func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// SIGTERM, then SIGKILL if it is still running after `grace`; returns the exit status.
    @discardableResult
    func terminate(grace: Duration = .seconds(5)) -> Int32 {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGTERM) }
        let deadline = ContinuousClock.now + grace
        while process.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
        kill()
        return process.terminationStatus
    }
}

/// Removes a directory tree (test data directories of child processes).
func removeTree(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

@Suite(.serialized, .timeLimit(.minutes(2))) struct NodeProcessTests {
    /// An in-process node on an ephemeral port with test-speed timers.
    static func node(_ type: VivimNode.NodeType, directory: String, bootstrap: [Multiaddr] = []) async throws -> VivimNode {
        var config = VivimNode.Configuration(contentDirectory: directory)
        config.listen = try Multiaddr("/ip4/127.0.0.1/tcp/0")
        config.bootstrap = bootstrap
        config.nodeType = type
        config.storage.tickInterval = .milliseconds(500)
        config.storage.storage.repairInterval = .seconds(1)
        config.storage.requestTimeout = .seconds(5)
        config.dht.kademlia.requestTimeout = .seconds(3)
        config.monitorInterval = .milliseconds(500)
        let node = try VivimNode(identity: PeerKeyPair(), configuration: config)
        try await node.start()
        return node
    }

    /// Polls `condition` every 50 ms for at most `seconds`.
    static func waitUntil(seconds: Int, _ condition: @Sendable () async -> Bool) async throws -> Bool {
        for _ in 0..<(seconds * 20) {
            if await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return await condition()
    }

    @Test func twentyNodeProcessesServeContentAndRepairAfterAReplicaHolderIsKilled() async throws {
        let executable = try NodeProcess.executable()
        let root = try TemporaryDirectory()
        defer { removeTree(root.path + "/tree") }
        let tree = root.path + "/tree"
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)

        // In-process nodes hold no replicas (bootstrap, client), so every replica is on a process.
        let seed = try await Self.node(.bootstrap, directory: tree + "/seed")
        let seedAddress = try #require(await seed.listenAddresses.first)
        var processes: [NodeProcess] = []
        defer { for p in processes { p.kill() } }  // always reap the children
        for i in 0..<20 {
            processes.append(try NodeProcess(executable: executable, dataDirectory: tree + "/p\(i)", bootstrap: seedAddress))
        }
        var byPeer: [PeerID: NodeProcess] = [:]
        for p in processes {
            let address = try await p.listenAddress()
            byPeer[try #require(address.peerID)] = p
        }
        #expect(byPeer.count == 20)

        // The network forms: the seed learns every process through their join lookups. The
        // test's nodes join after that, as a user's node joins a running network (joining
        // while the processes still start would leave them a table of the few already up).
        #expect(try await Self.waitUntil(seconds: 20) { await seed.dht.routingTableSize >= 20 })
        let owner = try await Self.node(.client, directory: tree + "/owner", bootstrap: [seedAddress])
        let reader = try await Self.node(.client, directory: tree + "/reader", bootstrap: [seedAddress])
        #expect(try await Self.waitUntil(seconds: 20) {
            let (o, r) = (await owner.dht.routingTableSize, await reader.dht.routingTableSize)
            return o >= 10 && r >= 10
        })

        // Publish from one test node: stored, provided, replicated to 3 processes.
        let bundle = (0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let contentId = hex(ContentHash(of: Array("ciphertext".utf8)).multihash.digest)
        let hash = try await owner.publish(contentId: contentId, bytes: bundle, replicationFactor: 3)
        #expect(try await Self.waitUntil(seconds: 20) { await owner.storage.replicas(of: hash).count == 3 })
        let holders = await owner.storage.replicas(of: hash)
        #expect(holders.allSatisfy { byPeer[$0] != nil })

        // Another test node finds it through the DHT (signed record + ADD_PROVIDER) and fetches it, hash-verified.
        let providers = try await reader.providers(contentId: contentId)
        #expect(providers.contains { $0.id == owner.peerID })
        #expect(try await reader.fetch(contentId: contentId) == bundle)

        // SIGKILL a replica holder: the owner's checks notice and repair back to 3 elsewhere.
        let victim = try #require(holders.first { byPeer[$0] != nil })
        byPeer[victim]!.kill()
        #expect(try await Self.waitUntil(seconds: 30) {
            let now = await owner.storage.replicas(of: hash)
            return now.count == 3 && !now.contains(victim)
        })
        // Repair may choose any live storing node: a process or the bootstrap seed, never the
        // killed holder and never the test's client nodes.
        let repaired = await owner.storage.replicas(of: hash)
        #expect(repaired.allSatisfy { ($0 == seed.peerID || byPeer[$0] != nil) && $0 != victim })

        // A process shuts down cleanly on SIGTERM.
        let survivor = try #require(byPeer.first { !holders.contains($0.key) }?.value)
        #expect(survivor.terminate() == 0)
        #expect(survivor.output.contains("vivim node: stopped"))
        for n in [reader, owner, seed] { await n.shutdown() }
    }
}

import Foundation
import Synchronization
import Testing
@testable import VivimNetwork

/// Interop with an independent libp2p implementation, py-libp2p (PyPI `libp2p`),
/// over real loopback sockets: Noise + yamux, identify and ping, both directions.
///
/// Requires `python3` with `libp2p` installed (the project's test script runs
/// `pip install libp2p`); `VIVIM_PYTHON` selects another interpreter. The test
/// fails, rather than skips, when they are missing.
@Suite(.serialized, .timeLimit(.minutes(2))) struct PyLibp2pInteropTests {
    static let python = ProcessInfo.processInfo.environment["VIVIM_PYTHON"] ?? "python3"
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("interop/py_peer.py").path

    /// A child process whose stdout lines are collected; terminated on `stop()`.
    final class PyPeer: Sendable {
        let process: Process
        final class Locked<Value: Sendable>: Sendable {
            let mutex: Mutex<Value>
            init(_ value: Value) { mutex = Mutex(value) }
            func withLock<R>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
        }
        private let output = Locked<(lines: [String], partial: String)>(([], ""))
        private let errors = Locked<String>("")
        private let input = Pipe()

        init(_ arguments: [String]) throws {
            process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [PyLibp2pInteropTests.python, "-u"] + arguments
            let out = Pipe(), err = Pipe()
            process.standardInput = input
            process.standardOutput = out
            process.standardError = err
            out.fileHandleForReading.readabilityHandler = { [output] handle in
                let text = String(decoding: handle.availableData, as: UTF8.self)
                output.withLock { o in
                    let parts = (o.partial + text).split(separator: "\n", omittingEmptySubsequences: false)
                    o.lines += parts.dropLast().map(String.init)
                    o.partial = String(parts.last ?? "")
                }
            }
            err.fileHandleForReading.readabilityHandler = { [errors] handle in
                let text = String(decoding: handle.availableData, as: UTF8.self)
                errors.withLock { $0 = String(($0 + text).suffix(400_000)) }
            }
            try process.run()
        }

        /// Waits (bounded) for a line starting with `prefix`; fails on an `ERROR` line or exit.
        func line(_ prefix: String, within limit: Duration = .seconds(45)) async throws -> String {
            let deadline = ContinuousClock.now + limit
            while ContinuousClock.now < deadline {
                let lines = output.withLock { $0.lines }
                if let hit = lines.first(where: { $0.hasPrefix(prefix + " ") }) { return String(hit.dropFirst(prefix.count + 1)) }
                if let error = lines.first(where: { $0.hasPrefix("ERROR ") }) {
                    throw TestError(description: "py-libp2p peer: \(error)\nstderr: \(errors.withLock { $0 })")
                }
                if !process.isRunning && output.withLock({ $0.lines }).count == lines.count {
                    throw TestError(description: "py-libp2p peer exited (\(process.terminationStatus)) before \(prefix); stderr: \(errors.withLock { $0 })")
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            throw TestError(description: "timed out waiting for \(prefix) from py-libp2p; stderr: \(errors.withLock { $0 })")
        }

        /// Closes the peer's stdin (its signal to exit), then kills it if it lingers.
        func stop() {
            try? input.fileHandleForWriting.close()
            let deadline = ContinuousClock.now + .seconds(5)
            while process.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            if let path = ProcessInfo.processInfo.environment["PY_PEER_STDERR"] {
                try? errors.withLock { $0 }.write(toFile: path, atomically: true, encoding: .utf8)
            }
        }
    }

    struct PyResult: Decodable {
        struct Identify: Decodable {
            let agentVersion: String
            let protocolVersion: String
            let protocols: [String]
            let publicKeyMatches: Bool
            let listenAddrs: [String]
        }
        let local: String
        let remote: String
        enum CodingKeys: String, CodingKey { case local = "self", remote, identify, ping }
        let identify: Identify
        let ping: [Double]
    }

    static func requirePyLibp2p() throws {
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.arguments = [python, "-c", "import libp2p, trio, multiaddr"]
        check.standardOutput = FileHandle.nullDevice
        check.standardError = FileHandle.nullDevice
        do {
            try check.run()
            check.waitUntilExit()
        } catch {
            throw TestError(description: "cannot run \(python): \(error). Run the project's test script, which installs Python 3 and `pip install libp2p`.")
        }
        guard check.terminationStatus == 0 else {
            throw TestError(description: "py-libp2p is not installed for \(python). Run the project's test script (it runs `pip install libp2p`), or set VIVIM_PYTHON to an interpreter that has it.")
        }
    }

    static func makeHost() -> P2PHost { P2PHost(identity: PeerKeyPair()) }

    @Test func vivimDialsPyLibp2pAndBothIdentifyAndPing() async throws {
        try Self.requirePyLibp2p()
        let peer = try PyPeer([Self.script, "listen"])
        defer { peer.stop() }
        let host = Self.makeHost()
        try await host.listen()
        let address = try Multiaddr(try await peer.line("LISTEN"))
        let conn = try await host.dial(address)
        #expect(conn.remotePeer == address.peerID)

        let info = try await conn.identify()
        #expect(info.publicKey?.peerID == address.peerID)
        #expect(info.protocols.contains(PingProtocol.protocolID))
        #expect(info.agentVersion?.isEmpty == false)
        for _ in 0..<3 { _ = try await conn.ping() }

        // py-libp2p then opens its own streams on the connection VIVIM dialled.
        let result = try JSONDecoder().decode(PyResult.self, from: Data(try await peer.line("RESULT").utf8))
        #expect(result.remote == host.peerID.description)
        #expect(result.identify.publicKeyMatches)
        #expect(result.identify.agentVersion == "vivim/0.1.0")
        #expect(result.identify.protocols.contains(IdentifyMessage.protocolID))
        #expect(result.ping.count == 3)
        await host.shutdown()
    }

    @Test func pyLibp2pDialsVivimAndIdentifiesAndPings() async throws {
        try Self.requirePyLibp2p()
        let host = Self.makeHost()
        let address = try await host.listen()
        let peer = try PyPeer([Self.script, "dial", address.description])
        defer { peer.stop() }
        let result = try JSONDecoder().decode(PyResult.self, from: Data(try await peer.line("RESULT").utf8))
        #expect(result.remote == host.peerID.description)
        #expect(result.identify.publicKeyMatches)
        #expect(result.identify.protocols.contains(PingProtocol.protocolID))
        #expect(result.identify.listenAddrs == [address.withoutPeerID.description])
        #expect(result.ping.count == 3)
        #expect(try host.connections(to: PeerID(string: result.local)).isEmpty == false)
        await host.shutdown()
    }
}

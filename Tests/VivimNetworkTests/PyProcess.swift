import Foundation
import Synchronization
import Testing

/// A Python helper process (the py-libp2p interop peers in `interop/`): stdout
/// is collected line by line, stdin carries commands, every wait is bounded,
/// and `stop()` closes stdin (the helper's signal to exit) and kills it if it lingers.
final class PyProcess: Sendable {
    static let python = ProcessInfo.processInfo.environment["VIVIM_PYTHON"] ?? "python3"

    static func script(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("interop/\(name)").path
    }

    /// Fails (never skips) when Python or py-libp2p is missing.
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

    final class Locked<Value: Sendable>: Sendable {
        let mutex: Mutex<Value>
        init(_ value: Value) { mutex = Mutex(value) }
        func withLock<R>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
    }

    struct Output: Sendable {
        var lines: [String] = []
        var partial = ""
        var consumed = 0
    }

    let process: Process
    private let output = Locked(Output())
    private let errors = Locked("")
    private let input = Pipe()

    init(_ arguments: [String]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [Self.python, "-u"] + arguments
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

    var stderr: String { errors.withLock { $0 } }

    /// Waits for the next unconsumed line starting with `prefix` (consuming the
    /// lines before it); an `ERROR` line or the process exiting fails the wait.
    func line(_ prefix: String, within limit: Duration = .seconds(45)) async throws -> String {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            let exited = !process.isRunning
            let found: Result<String, TestError>? = output.withLock { o in
                for i in o.consumed..<o.lines.count {
                    let line = o.lines[i]
                    if line.hasPrefix(prefix + " ") || line == prefix {
                        o.consumed = i + 1
                        return .success(String(line.dropFirst(min(line.count, prefix.count + 1))))
                    }
                    if line.hasPrefix("ERROR ") {
                        o.consumed = i + 1
                        return .failure(TestError(description: "python peer: \(line)"))
                    }
                }
                return nil
            }
            switch found {
            case .success(let text): return text
            case .failure(let error): throw TestError(description: "\(error)\nstderr: \(stderr.suffix(4000))")
            case nil: break
            }
            if exited {
                throw TestError(description: "python peer exited (\(process.terminationStatus)) before \(prefix); stderr: \(stderr.suffix(4000))")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestError(description: "timed out waiting for \(prefix) from the python peer; stderr: \(stderr.suffix(4000))")
    }

    func send(_ line: String) throws {
        try input.fileHandleForWriting.write(contentsOf: Data((line + "\n").utf8))
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        let deadline = ContinuousClock.now + .seconds(5)
        while process.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        if let path = ProcessInfo.processInfo.environment["PY_PEER_STDERR"] {
            try? stderr.write(toFile: path, atomically: true, encoding: .utf8)
        }
    }
}

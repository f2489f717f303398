import ArgumentParser
import Foundation
import VivimCrypto
import VivimNetwork

/// `vivim bench crypto`: content cipher, capsules and bundle sealing, with
/// `openssl speed -evp aes-256-gcm` measured in the same run as the baseline.
struct CryptoBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "crypto")
    @OptionGroup var options: BenchOptions

    func run() async throws {
        var results = try CryptoBenchmark.run(quick: options.quick).map { BenchFigure(name: $0.name, value: $0.value, unit: $0.unit) }
        if let openssl = opensslAESGCM16KB(seconds: options.quick ? 1 : 3) {
            results.append(BenchFigure(name: "openssl speed -elapsed -evp aes-256-gcm, 16 KiB blocks (baseline)", value: openssl, unit: "MB/s"))
            for index in results.indices where results[index].unit == "MB/s" && results[index].name.lowercased().contains("aes") && results[index].baseline == nil
                && !results[index].name.hasPrefix("openssl") {
                results[index].baseline = openssl
                results[index].ratio = results[index].value / openssl
            }
        }
        BenchReport(suite: "crypto", machine: BenchReport.machine, results: results).print(json: options.json)
    }

    /// Runs openssl on this machine now; nil when openssl is not installed.
    ///
    /// `openssl speed` times itself with SIGALRM, and a child inherits the signal mask of
    /// the runtime thread that starts it, where SIGALRM is blocked; so it is started
    /// through a one-line exec wrapper that unblocks SIGALRM first.
    func opensslAESGCM16KB(seconds: Int) -> Double? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let command = ["openssl", "speed", "-elapsed", "-seconds", String(seconds), "-bytes", "16384", "-evp", "aes-256-gcm"]
        process.arguments = ["python3", "-c", """
            import os, signal, sys
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGALRM])
            os.execvp(sys.argv[1], sys.argv[1:])
            """] + command
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // The last line reads "AES-256-GCM  <kB/s for 16384-byte blocks>k".
        guard let line = output.split(separator: "\n").last(where: { $0.lowercased().hasPrefix("aes-256-gcm") }),
              let field = line.split(separator: " ").last, let kilobytes = Double(field.dropLast()) else { return nil }
        return kilobytes * 1000 / 1_000_000
    }
}

/// `vivim bench dht-sim`: Kademlia lookups in the deterministic simulation, N = 100, 1,000, 5,000.
struct DHTSimBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dht-sim")
    @OptionGroup var options: BenchOptions
    func run() async throws {
        let sizes = options.quick ? [100, 500] : [100, 1_000, 5_000]
        let figures = try NetworkBenchmark.dhtSimulation(sizes: sizes, lookups: options.quick ? 100 : 500)
        BenchReport(suite: "dht-sim", machine: BenchReport.machine, results: figures.map { BenchFigure(name: $0.name, value: $0.value, unit: $0.unit) })
            .print(json: options.json)
    }
}

/// `vivim bench pubsub`: gossipsub delivery in the simulation, and one node's message
/// throughput over real sockets (SPEC §12: 10,000 messages per second per node).
struct PubSubBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pubsub")
    @OptionGroup var options: BenchOptions
    @Flag(help: "Only the one-node throughput over real sockets (no simulation), e.g. for profiling.")
    var nodeOnly = false
    @Option(help: "Messages fed to the node under test (default 20,000; 5,000 with --quick).")
    var messages: Int?
    func run() async throws {
        raiseOpenFileLimit()
        var figures = try await NetworkBenchmark.pubsubThroughput(messages: messages ?? (options.quick ? 5_000 : 20_000))
        if !nodeOnly { figures += try NetworkBenchmark.pubsubSimulation(sizes: options.quick ? [100] : [100, 1_000], messages: options.quick ? 20 : 50) }
        BenchReport(suite: "pubsub", machine: BenchReport.machine, results: figures.map { BenchFigure(name: $0.name, value: $0.value, unit: $0.unit) })
            .print(json: options.json)
    }
}

/// `vivim bench p2p`: real nodes on loopback (handshakes, also on one core; DHT lookups; PubSub
/// delivery; content fetch, local and over the network, through full `VivimNode`s), then the
/// node-scale rows of SPEC §12's per-node floors (1,000 connected peers, 100,000 content
/// records, 50 concurrent transfers; `--quick`: 200 peers, 5,000 records, 50 transfers of 64 KB).
struct P2PBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "p2p")
    @OptionGroup var options: BenchOptions
    @Option var nodes: Int?
    @Flag(help: "Only the node-scale rows (connected peers, content records, concurrent transfers).")
    var nodeScaleOnly = false
    @Flag(help: "Skip the node-scale rows.")
    var skipNodeScale = false
    func run() async throws {
        raiseOpenFileLimit()
        var figures = nodeScaleOnly ? [] : try await networkFigures()
        if !skipNodeScale {
            let directory = NSTemporaryDirectory() + "vivim-bench-scale-\(getpid())"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            figures += try await NetworkBenchmark.nodeScale(peers: options.quick ? 200 : 1_000, records: options.quick ? 5_000 : 100_000,
                                                            transfers: 50, bundleSize: options.quick ? 64 * 1024 : 256 * 1024,
                                                            directory: directory)
        }
        BenchReport(suite: "p2p", machine: BenchReport.machine, results: figures.map { BenchFigure(name: $0.name, value: $0.value, unit: $0.unit) })
            .print(json: options.json)
    }

    private func networkFigures() async throws -> [NetworkBenchmark.Figure] {
        let count = nodes ?? (options.quick ? 10 : 50)
        // First, while nothing else runs in the process.
        let oneCore = try await NetworkBenchmark.handshakesOnOneCore(options.quick ? 50 : 500)
        var figures = try await NetworkBenchmark.loopback(nodes: count, handshakes: options.quick ? 50 : 200,
                                                          lookups: options.quick ? 20 : 100, messages: options.quick ? 20 : 100)
        if let oneCore { figures.insert(oneCore, at: 3) }
        let directory = NSTemporaryDirectory() + "vivim-bench-fetch-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        figures += try await NetworkBenchmark.contentFetch(nodes: count, bundles: options.quick ? 20 : 100, directory: directory)
        return figures
    }
}

import ArgumentParser
import Foundation
import VivimCRDT
import VivimNetwork

/// `vivim bench crdt`: the editing-trace replay (`b4-trace-replay`) and CRDT operation rates.
struct CRDTBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "crdt")
    @OptionGroup var options: BenchOptions
    @Option(help: "The editing trace (default: ../shared/data/editing-trace.json.gz).") var trace = "../shared/data/editing-trace.json.gz"
    @Flag(help: "Skip the two-node /vivim/sync/1.0.0 figures.") var noNetwork = false

    func run() async throws {
        guard FileManager.default.fileExists(atPath: trace) else { throw CLIError("trace not found at \(trace); pass --trace") }
        let figures = try CRDTBenchmark.run(quick: options.quick, tracePath: trace)
        var results = figures.map { BenchFigure(name: $0.name, value: $0.value, unit: $0.unit) }
        // After the in-process figures, so the two nodes do not disturb `b4-trace-replay`.
        if !noNetwork {
            let directory = NSTemporaryDirectory() + "vivim-sync-bench-\(UInt64.random(in: 0 ... .max))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let sync = try await SyncBenchmark.run(operations: 10_000, runs: options.quick ? 1 : 5, directory: directory)
            results += sync.map { BenchFigure(name: $0.name, value: $0.value, unit: $0.unit) }
        }
        BenchReport(suite: "crdt", machine: BenchReport.machine, results: results).print(json: options.json)
    }
}

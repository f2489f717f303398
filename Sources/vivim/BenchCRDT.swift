import ArgumentParser
import Foundation
import VivimCRDT

/// `vivim bench crdt`: the editing-trace replay (`b4-trace-replay`) and CRDT operation rates.
struct CRDTBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "crdt")
    @OptionGroup var options: BenchOptions
    @Option(help: "The editing trace (default: ../shared/data/editing-trace.json.gz).") var trace = "../shared/data/editing-trace.json.gz"

    func run() async throws {
        guard FileManager.default.fileExists(atPath: trace) else { throw CLIError("trace not found at \(trace); pass --trace") }
        let figures = try CRDTBenchmark.run(quick: options.quick, tracePath: trace)
        BenchReport(suite: "crdt", machine: BenchReport.machine,
                    results: figures.map { BenchFigure(name: $0.name, value: $0.value, unit: $0.unit) }).print(json: options.json)
    }
}

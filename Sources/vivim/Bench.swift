import ArgumentParser
import Foundation

/// One figure of a benchmark run (SPEC §13 JSON shape).
struct BenchFigure: Encodable, Sendable {
    var name: String
    var value: Double
    var unit: String
    var p50: Double?
    var p99: Double?
    var baseline: Double?
    var ratio: Double?
}

struct BenchReport: Encodable {
    var suite: String
    var machine: String
    var results: [BenchFigure]

    func print(json: Bool) {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            Swift.print(String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self))
            return
        }
        Swift.print("suite: \(suite)   machine: \(machine)")
        let rows = results.map { figure -> [String] in
            [figure.name, Self.format(figure.value) + " " + figure.unit,
             figure.p50.map { Self.format($0) } ?? "", figure.p99.map { Self.format($0) } ?? "",
             figure.baseline.map { Self.format($0) } ?? "", figure.ratio.map { String(format: "%.2f", $0) } ?? ""]
        }
        let header = ["name", "value", "p50", "p99", "baseline", "ratio"]
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        for row in [header] + rows {
            Swift.print(row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: "  "))
        }
    }

    static func format(_ value: Double) -> String {
        if value >= 100 || value == value.rounded() { return String(format: "%.0f", value) }
        return String(format: value >= 1 ? "%.2f" : "%.4f", value)
    }

    static var machine: String {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let memory = ProcessInfo.processInfo.physicalMemory >> 30
        #if DEBUG
        let build = "debug"
        #else
        let build = "release"
        #endif
        return "\(cores) cores, \(memory) GiB, \(build) build"
    }
}

/// Latency samples in seconds → percentiles in milliseconds.
struct LatencySamples {
    var values: [Double] = []
    mutating func add(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        values.append(Double(seconds) + Double(attoseconds) / 1e18)
    }
    func percentileMilliseconds(_ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))] * 1000
    }
}

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a benchmark suite and print its figures.",
                                                    subcommands: [UserDBBench.self, AuthBench.self, ImportBench.self, CRDTBench.self, CryptoBench.self,
                                                                  DHTSimBench.self, PubSubBench.self, P2PBench.self,
                                                                  ResolverBench.self, SchedulerBench.self, PipelineBench.self])
}

struct BenchOptions: ParsableArguments {
    @Flag(help: "Reduced size, for smoke tests.") var quick = false
    @Flag(help: "Print one JSON object.") var json = false
}

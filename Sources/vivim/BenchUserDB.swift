import ArgumentParser
import Foundation
import VivimCore
import VivimCrypto
import VivimStore

/// `vivim bench userdb`: open-or-reuse plus one conversation read over many user files.
struct UserDBBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "userdb")
    @OptionGroup var options: BenchOptions
    @Option(help: "User files on disk.") var users: Int?
    @Option(help: "Operations per distribution.") var operations: Int?
    @Option(name: .customLong("cache-size")) var cacheSize = 256
    @Option(name: .customLong("data-dir"), help: "Kept between runs so the files are made once.") var dataDir = "/tmp/vivim-bench-userdb"

    func run() async throws {
        raiseOpenFileLimit()
        let userCount = users ?? (options.quick ? 2_000 : 100_000)
        let operationCount = operations ?? (options.quick ? 2_000 : 50_000)
        let directory = "\(dataDir)/n\(userCount)"
        let setupStart = ContinuousClock.now
        let dids = (0..<userCount).map { index in
            try! SigningIdentity(seed: Hashing.sha256(Array("vivim-bench-user-\(index)".utf8))).did
        }
        let conversationID = try await populate(directory: directory, dids: dids)
        let setup = ContinuousClock.now - setupStart

        let manager = try UserDatabaseManager(dataDirectory: directory, capacity: cacheSize)
        var generator = SplitMix64(seed: 42)
        let zipf = ZipfSampler(count: userCount, exponent: 1.1)
        var results: [BenchFigure] = [BenchFigure(name: "setup (derive DIDs, create files if missing)", value: setup.seconds, unit: "s")]
        for (label, pick) in [("zipf", { (g: inout SplitMix64) in zipf.sample(&g) }), ("uniform", { (g: inout SplitMix64) in Int(g.next() % UInt64(userCount)) })] {
            var samples = LatencySamples(), opens = LatencySamples(), reads = LatencySamples()
            var misses = 0
            for _ in 0..<operationCount {
                let did = dids[pick(&generator)]
                let wasOpen = manager.isOpen(did)
                let start = ContinuousClock.now
                let database = try manager.database(for: did)
                let opened = ContinuousClock.now
                guard try await database.conversationWithMessages(conversationID) != nil else {
                    throw CLIError("conversation missing")
                }
                let end = ContinuousClock.now
                samples.add(end - start)
                reads.add(end - opened)
                if !wasOpen {
                    misses += 1
                    opens.add(opened - start)
                }
            }
            let scope = "\(label), \(userCount) users, LRU \(cacheSize)"
            results.append(BenchFigure(name: "open-or-reuse + read conversation (\(scope))", value: samples.percentileMilliseconds(0.5), unit: "ms",
                                       p50: samples.percentileMilliseconds(0.5), p99: samples.percentileMilliseconds(0.99)))
            results.append(BenchFigure(name: "  of which: open on a cache miss (\(label))", value: opens.percentileMilliseconds(0.5), unit: "ms",
                                       p50: opens.percentileMilliseconds(0.5), p99: opens.percentileMilliseconds(0.99)))
            results.append(BenchFigure(name: "  of which: read 20-message conversation (\(label))", value: reads.percentileMilliseconds(0.5), unit: "ms",
                                       p50: reads.percentileMilliseconds(0.5), p99: reads.percentileMilliseconds(0.99)))
            results.append(BenchFigure(name: "  cache miss rate (\(label))", value: 100 * Double(misses) / Double(operationCount), unit: "%"))
        }
        results.append(BenchFigure(name: "open handles at end", value: Double(manager.openCount), unit: "handles"))
        results.append(BenchFigure(name: "open file descriptors at end", value: Double(openFileDescriptors()), unit: "fds"))
        BenchReport(suite: "userdb", machine: BenchReport.machine, results: results).print(json: options.json)
    }

    /// Creates the user files once: a template database with one conversation, copied
    /// to each user's path (registration creates files one by one; copying makes the
    /// 100,000-file setup take seconds instead of minutes).
    func populate(directory: String, dids: [DID]) async throws -> ConversationID {
        let marker = "\(directory)/conversation-id"
        if let text = try? String(contentsOfFile: marker, encoding: .utf8), let id = try? ConversationID(parsing: text) {
            return id
        }
        try? FileManager.default.removeItem(atPath: directory)
        let templateDirectory = "\(directory)-template"
        try? FileManager.default.removeItem(atPath: templateDirectory)
        let templateManager = try UserDatabaseManager(dataDirectory: templateDirectory, capacity: 1)
        let templateDID = dids[0]
        let database = try templateManager.create(for: templateDID)
        let messages = (0..<20).map { index in
            MessageInput(role: index % 2 == 0 ? .user : .assistant,
                         parts: [.text("Message \(index): a paragraph about sharing, privacy and peer-to-peer networks.\n\n```swift\nprint(\(index))\n```")])
        }
        let imported = try await database.importConversation(
            ConversationInput(provider: "bench", sourceURL: nil, title: "Benchmark conversation", model: "m", createdAt: nil, messages: messages),
            at: Date())
        templateManager.closeAll()
        let template = try Data(contentsOf: URL(fileURLWithPath: templateManager.path(for: templateDID)))
        let manager = try UserDatabaseManager(dataDirectory: directory, capacity: 1)
        for did in dids {
            let path = manager.path(for: did)
            let folder = (path as NSString).deletingLastPathComponent
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            guard FileManager.default.createFile(atPath: path, contents: template, attributes: [.posixPermissions: 0o600]) else {
                throw CLIError("cannot create \(path)")
            }
        }
        try imported.id.rawValue.write(toFile: marker, atomically: true, encoding: .utf8)
        try? FileManager.default.removeItem(atPath: templateDirectory)
        return imported.id
    }
}

func openFileDescriptors() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
}

/// SplitMix64 (Steele, Lea & Flood 2014): a small, seedable generator for repeatable runs.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Zipf-distributed ranks by inverse-CDF lookup over a precomputed table.
struct ZipfSampler {
    let cumulative: [Double]
    init(count: Int, exponent: Double) {
        var sum = 0.0
        var table = [Double]()
        table.reserveCapacity(count)
        for rank in 1...count {
            sum += 1 / pow(Double(rank), exponent)
            table.append(sum)
        }
        cumulative = table.map { $0 / sum }
    }
    func sample(_ generator: inout SplitMix64) -> Int {
        let u = Double(generator.next() >> 11) / Double(1 << 53)
        var low = 0, high = cumulative.count - 1
        while low < high {
            let mid = (low + high) / 2
            if cumulative[mid] < u { low = mid + 1 } else { high = mid }
        }
        return low
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// One measured figure of `CRDTBenchmark`.
public struct CRDTBenchmarkFigure: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var value: Double
    public var unit: String

    public init(name: String, value: Double, unit: String) {
        self.name = name
        self.value = value
        self.unit = unit
    }

    public var description: String { "\(name)\t\(value)\t\(unit)" }
}

/// The CRDT benchmarks of issue 6 (`vivim bench crdt`; SPEC §13). Times are
/// monotonic (`ContinuousClock`); each timed figure is the median of several
/// runs (one run when `quick`). Run it from a release build.
public enum CRDTBenchmark {
    public enum Failure: Error, CustomStringConvertible {
        case wrongFinalText

        public var description: String { "the replayed trace does not end with the trace's final text" }
    }

    /// Runs every benchmark. `tracePath` is the editing trace
    /// (shared/data/editing-trace.json.gz, see `EditingTrace`).
    public static func run(quick: Bool, tracePath: String) throws -> [CRDTBenchmarkFigure] {
        let trace = try EditingTrace.load(path: tracePath)
        let runs = quick ? 1 : 5
        var figures: [CRDTBenchmarkFigure] = []

        // B4: the whole editing trace applied locally.
        var replayed = RGASequence<Unicode.Scalar>()
        let replay = median(runs) { replayed = trace.replay() }
        guard replayed.text == trace.finalText else { throw Failure.wrongFinalText }
        figures.append(.init(name: "b4-trace-replay", value: replay, unit: "s"))
        let documentReplay = median(runs) {
            var document = CRDTDocument(id: "b4", replica: ReplicaID(1))
            for edit in trace.edits {
                if edit.deleteCount > 0 { document.deleteText(at: edit.position, count: edit.deleteCount, in: "text") }
                if !edit.text.isEmpty { document.insertText(edit.text, at: edit.position, in: "text") }
            }
        }
        figures.append(.init(name: "b4-trace-replay-document", value: documentReplay, unit: "s"))

        // Encoded form: size, load (decode into a replica), merge into a fresh replica.
        let encoded = replayed.encoded()
        figures.append(.init(name: "b4-encoded-size", value: Double(encoded.count), unit: "bytes"))
        var loaded = RGASequence<Unicode.Scalar>()
        figures.append(.init(name: "b4-load", value: median(runs) { loaded = try! RGASequence(decoding: encoded) }, unit: "s"))
        guard loaded.text == trace.finalText else { throw Failure.wrongFinalText }
        var merged = RGASequence<Unicode.Scalar>()
        let merge = median(runs) {
            merged = RGASequence()
            merged.merge(try! RGASequence(decoding: encoded))
        }
        guard merged.text == trace.finalText else { throw Failure.wrongFinalText }
        figures.append(.init(name: "b4-merge-encoded", value: merge, unit: "s"))
        let saved = {
            var document = CRDTDocument(id: "b4", replica: ReplicaID(1))
            for edit in trace.edits {
                if edit.deleteCount > 0 { document.deleteText(at: edit.position, count: edit.deleteCount, in: "text") }
                if !edit.text.isEmpty { document.insertText(edit.text, at: edit.position, in: "text") }
            }
            return document.update(since: StateVector()).encoded()
        }()
        figures.append(.init(name: "b4-update-size", value: Double(saved.count), unit: "bytes"))
        let documentMerge = median(runs) {
            var fresh = CRDTDocument(id: "b4", replica: ReplicaID(2))
            fresh.apply(try! CRDTUpdate(decoding: saved))
        }
        figures.append(.init(name: "b4-merge-update-document", value: documentMerge, unit: "s"))

        // Counters, sets, maps: operations per second.
        let operations = quick ? 100_000 : 1_000_000
        let replicas = (1...16).map { ReplicaID(UInt64($0)) }
        figures.append(.init(name: "gcounter-increment", value: Double(operations) / median(runs) {
            var counter = GCounter()
            for i in 0..<operations { counter.increment(at: Dot(replica: replicas[i & 15], counter: UInt64(i >> 4))) }
            precondition(counter.value == UInt64(operations))
        }, unit: "ops/s"))
        figures.append(.init(name: "pncounter-add", value: Double(operations) / median(runs) {
            var counter = PNCounter()
            for i in 0..<operations { counter.add(i & 1 == 0 ? 2 : -1, at: Dot(replica: replicas[i & 15], counter: UInt64(i >> 4))) }
            precondition(counter.value == Int64(operations / 2))
        }, unit: "ops/s"))
        let elements = (0..<1024).map { CRDTValue.int(Int64($0)) }
        figures.append(.init(name: "orset-add-remove", value: Double(operations) / median(runs) {
            var set = ORSet<CRDTValue>()
            for i in 0..<operations {
                let element = elements[(i >> 1) & 1023]
                if i & 1 == 0 { set.insert(element, at: Dot(replica: replicas[i & 15], counter: UInt64(i >> 4))) } else { set.remove(element) }
            }
        }, unit: "ops/s"))
        let keys = (0..<256).map { "key\($0)" }
        figures.append(.init(name: "lwwmap-set", value: Double(operations) / median(runs) {
            var map = LWWMap<String, CRDTValue>()
            for i in 0..<operations {
                let stamp = LWWStamp(timestamp: HLCTimestamp(physical: UInt64(i)), replica: replicas[i & 15])
                map.set(keys[i & 255], to: .int(Int64(i)), stamp: stamp, dot: Dot(replica: replicas[i & 15], counter: UInt64(i >> 4)))
            }
        }, unit: "ops/s"))

        // Merge of 1,549 replicas' profile maps into one.
        let profileFields = ["name", "bio", "avatar", "location", "website", "pronouns"]
        let states: [LWWMap<String, CRDTValue>] = (0..<1549).map { index in
            var map = LWWMap<String, CRDTValue>()
            let replica = ReplicaID(UInt64(index + 1))
            for (offset, field) in profileFields.enumerated() {
                let stamp = LWWStamp(timestamp: HLCTimestamp(physical: UInt64((index * 7919 + offset * 104_729) % 100_000)), replica: replica)
                map.set(field, to: .string("\(field) \(index)"), stamp: stamp, dot: Dot(replica: replica, counter: UInt64(offset)))
            }
            map.set("seen/\(index)", to: .bool(true), stamp: LWWStamp(timestamp: HLCTimestamp(physical: 1), replica: replica),
                    dot: Dot(replica: replica, counter: 6))
            return map
        }
        var union = LWWMap<String, CRDTValue>()
        figures.append(.init(name: "lwwmap-merge-1549-replicas", value: median(runs) {
            union = LWWMap()
            for state in states { union.merge(state) }
        }, unit: "s"))
        precondition(union.count == profileFields.count + 1549)
        return figures
    }

    /// Median wall time of `runs` executions of `body`, in seconds.
    static func median(_ runs: Int, _ body: () -> Void) -> Double {
        let clock = ContinuousClock()
        var times: [Double] = []
        for _ in 0..<max(1, runs) {
            let elapsed = clock.measure(body)
            times.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
        }
        times.sort()
        return times[times.count / 2]
    }
}

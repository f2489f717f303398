import VivimCRDT

/// `vivim bench crdt`'s network figures: a document of `operations` mixed
/// operations (text typing and deletes, counter increments, set adds, map
/// writes) held by one node, pulled by a fresh node over `/vivim/sync/1.0.0`
/// on 127.0.0.1 (Noise + yamux). Time = `syncDocument` until the delta is
/// applied; bytes = the `delta` frame on the sync stream (before Noise/yamux framing).
public enum SyncBenchmark {
    public struct Figure: Sendable {
        public let name: String
        public let value: Double
        public let unit: String
    }

    /// `directory` holds the nodes' (empty) content stores; the caller removes it.
    public static func run(operations: Int = 10_000, runs: Int = 5, directory root: String) async throws -> [Figure] {
        func node(_ name: String) async throws -> VivimNode {
            var config = VivimNode.Configuration(contentDirectory: root + "/" + name)
            config.listen = try Multiaddr("/ip4/127.0.0.1/tcp/0")
            config.sync.antiEntropyInterval = .seconds(3600)
            config.sync.syncTimeout = .seconds(60)
            let node = try VivimNode(identity: PeerKeyPair(), configuration: config)
            try await node.start()
            return node
        }
        let id = DocumentID.annotations("bench")
        let source = try await node("source")
        try await source.sync.open(id)
        try await source.sync.change(id) { document in Self.fill(&document, operations: operations) }
        let state = await source.sync.save(id) ?? []
        let delta = try CRDTDocument.load(state, replica: ReplicaID(1)).update(since: StateVector())
        let frameBytes = SyncProtocol.Frame.messages([.delta(delta)]).framed.count
        let addrs = await source.listenAddresses

        var times: [Double] = []
        for _ in 0..<max(1, runs) {
            let sink = try await node("sink-\(times.count)")
            try await sink.sync.open(id)
            let start = ContinuousClock.now
            try await sink.syncDocument(id, with: source.peerID, addrs: addrs)
            let elapsed = ContinuousClock.now - start
            guard await sink.sync.save(id) == state else { throw DocumentSyncService.Error.unknownDocument(id) }
            times.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
            await sink.shutdown()
        }
        await source.shutdown()
        let k = operations / 1000
        return [
            Figure(name: "sync-\(k)k-ops-two-nodes", value: times.sorted()[times.count / 2], unit: "s"),
            Figure(name: "sync-\(k)k-ops-delta-bytes", value: Double(frameBytes), unit: "bytes"),
            Figure(name: "sync-\(k)k-ops-state-bytes", value: Double(state.count), unit: "bytes"),
        ]
    }

    /// `operations` deterministic operations: 70 % typed characters, 10 % deletes,
    /// 10 % counter increments, 5 % set adds, 5 % map writes.
    static func fill(_ document: inout CRDTDocument, operations: Int) {
        var seed: UInt64 = 42
        func next(_ n: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(max(1, n)))
        }
        for i in 0..<operations {
            switch next(100) {
            case 0..<70: document.insertText("abcdefghij".map(String.init)[i % 10], at: next(document.textLength("body") + 1), in: "body")
            case 70..<80 where document.textLength("body") > 0: document.deleteText(at: next(document.textLength("body")), in: "body")
            case 70..<90: document.increment("views")
            case 90..<95: document.insert(.string("item-\(next(500))"), intoSet: "items")
            default: document.setValue(.int(Int64(i)), forKey: "k\(next(50))", inMap: "meta", wallClock: UInt64(i))
            }
        }
    }
}

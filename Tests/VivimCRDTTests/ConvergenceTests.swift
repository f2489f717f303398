import Testing
@testable import VivimCRDT

/// A lossy simulated network between `CRDTSyncCore`s: messages travel as
/// encoded bytes and may be dropped, duplicated, reordered, or cut by a partition.
struct SimulatedNetwork {
    struct Envelope {
        var from: Int
        var to: Int
        var bytes: [UInt8]
    }

    var cores: [CRDTSyncCore<Int>]
    var inFlight: [Envelope] = []
    var rng: SplitMix64
    var dropRate = 0.0
    var duplicateRate = 0.0
    /// Replicas on different sides can not talk while a partition is up.
    var side: [Int]?
    var delivered = 0

    init(replicas: Int, seed: UInt64) {
        rng = SplitMix64(seed: seed)
        var ids = Set<UInt64>()
        while ids.count < replicas { ids.insert(rng.next() % 1_000_000 + 1) }
        cores = ids.sorted().map { CRDTSyncCore(document: CRDTDocument(id: "shared", replica: ReplicaID($0))) }
    }

    mutating func send(_ actions: [CRDTSyncCore<Int>.Action], from: Int) {
        // A broadcast repeats one update for every peer: encode it once.
        var broadcast: [UInt8]?
        for action in actions {
            guard case .send(let message, let to) = action else { continue }
            if rng.chance(dropRate) { continue }
            var bytes: [UInt8]
            if case .update = message, let cached = broadcast {
                bytes = cached
            } else {
                bytes = message.encoded()
                if case .update = message { broadcast = bytes }
            }
            let envelope = Envelope(from: from, to: to, bytes: bytes)
            inFlight.append(envelope)
            if rng.chance(duplicateRate) { inFlight.append(envelope) }
        }
    }

    /// Delivers one message chosen at random (so delivery order is random).
    mutating func deliverOne() throws {
        guard !inFlight.isEmpty else { return }
        let envelope = inFlight.remove(at: Int.random(in: 0..<inFlight.count, using: &rng))
        if let side, side[envelope.from] != side[envelope.to] { return }
        let message = try SyncMessage(decoding: envelope.bytes)
        delivered += 1
        send(cores[envelope.to].handle(.received(message, from: envelope.from)), from: envelope.to)
    }

    mutating func deliverAll(limit: Int = 100_000) throws {
        var steps = 0
        while !inFlight.isEmpty, steps < limit {
            try deliverOne()
            steps += 1
        }
    }

    /// One random local operation on replica `i`, broadcast as a live update.
    mutating func randomOperation(on i: Int, time: UInt64) {
        let choice = Int.random(in: 0..<12, using: &rng)
        let value = CRDTValue.int(Int64.random(in: 0..<20, using: &rng))
        let letter = String(UnicodeScalar(UInt8.random(in: 97...122, using: &rng)))
        var rng = self.rng
        let (_, actions) = cores[i].change { document in
            switch choice {
            case 0, 1, 2:
                let index = Int.random(in: 0...document.textLength("body"), using: &rng)
                document.insertText(String(repeating: letter, count: Int.random(in: 1...3, using: &rng)), at: index, in: "body")
            case 3:
                let length = document.textLength("body")
                guard length > 0 else { return }
                let index = Int.random(in: 0..<length, using: &rng)
                document.deleteText(at: index, count: Int.random(in: 1...min(3, length - index), using: &rng), in: "body")
            case 4: document.increment("views", by: UInt64.random(in: 1...3, using: &rng))
            case 5: document.add(Int64.random(in: -3...3, using: &rng), toCounter: "balance")
            case 6: document.setRegister("title", to: value, wallClock: time)
            case 7: document.insert(value, intoSet: "collection")
            case 8: document.remove(value, fromSet: "collection")
            case 9: document.setValue(value, forKey: ["name", "bio", "avatar"].randomElement(using: &rng)!, inMap: "profile", wallClock: time)
            case 10: document.removeValue(forKey: ["name", "bio", "avatar"].randomElement(using: &rng)!, inMap: "profile", wallClock: time)
            default:
                let length = document.listLength("annotations")
                if length > 0, rng.chance(0.3) {
                    document.delete(at: Int.random(in: 0..<length, using: &rng), inList: "annotations")
                } else {
                    document.insert([value], at: Int.random(in: 0...length, using: &rng), inList: "annotations")
                }
            }
        }
        self.rng = rng
        send(actions, from: i)
    }
}

@Suite("Randomized convergence under a faulty network")
struct ConvergenceTests {
    static let replicas = 5
    static let operations = 200
    static let shards = 8
    static let seedsPerShard = 125 // 1,000 seeds in all

    /// Runs one seed: joined replicas edit concurrently while the network
    /// drops, duplicates and reorders messages and a partition splits them;
    /// then the network heals, anti-entropy runs, and every replica must hold
    /// byte-identical state.
    static func run(seed: UInt64) throws -> (states: [[UInt8]], pending: [Int], delivered: Int) {
        var network = SimulatedNetwork(replicas: replicas, seed: seed)
        for i in 0..<replicas {
            for j in 0..<replicas where j != i { network.send(network.cores[i].handle(.peerJoined(j)), from: i) }
        }
        network.dropRate = 0.15
        network.duplicateRate = 0.1
        let partitionStart = Int.random(in: 20..<100, using: &network.rng)
        let partitionEnd = partitionStart + Int.random(in: 30..<90, using: &network.rng)
        for step in 0..<operations {
            if step == partitionStart { network.side = (0..<replicas).map { _ in Int.random(in: 0...1, using: &network.rng) } }
            if step == partitionEnd { network.side = nil }
            network.randomOperation(on: Int.random(in: 0..<replicas, using: &network.rng), time: UInt64(step / 3))
            for _ in 0..<Int.random(in: 0...4, using: &network.rng) { try network.deliverOne() }
        }
        // Heal: a reliable network; deliver what is in flight, then anti-entropy.
        network.side = nil
        network.dropRate = 0
        network.duplicateRate = 0
        try network.deliverAll()
        for i in 0..<replicas { network.send(network.cores[i].handle(.antiEntropyTick), from: i) }
        try network.deliverAll()
        return (network.cores.map { $0.document.encodedState() }, network.cores.map { $0.document.pendingUpdateCount }, network.delivered)
    }

    @Test(arguments: 0..<shards)
    func replicasConvergeByteForByte(shard: Int) throws {
        for offset in 0..<Self.seedsPerShard {
            let seed = UInt64(shard * Self.seedsPerShard + offset)
            let result = try Self.run(seed: seed)
            let reference = result.states[0]
            let agree = result.states.allSatisfy { $0 == reference }
            #expect(agree, "seed \(seed): replicas diverged")
            #expect(result.pending.allSatisfy { $0 == 0 }, "seed \(seed): updates left buffered \(result.pending)")
            if !agree { return }
        }
    }

    @Test func theSimulationActuallyExchangesAndMergesConcurrentWork() throws {
        var network = SimulatedNetwork(replicas: 3, seed: 7)
        for i in 0..<3 {
            for j in 0..<3 where j != i { network.send(network.cores[i].handle(.peerJoined(j)), from: i) }
        }
        try network.deliverAll()
        for i in 0..<3 {
            let (_, actions) = network.cores[i].change { $0.insertText("r\(i)", at: 0, in: "body"); $0.increment("views") }
            network.send(actions, from: i)
        }
        try network.deliverAll()
        for core in network.cores {
            #expect(core.document.counter("views") == 3)
            #expect(core.document.textLength("body") == 6)
        }
    }
}


import Testing
@testable import VivimCRDT

/// Random histories of one CRDT type: three replicas make random operations
/// and merge each other's states at random, so their states share some
/// history and diverge on the rest (the interesting case for the laws).
struct History<T: StateCRDT> {
    struct Replica {
        var state: T
        var id: ReplicaID
        var counter: UInt64 = 0
        var vector = StateVector()
    }

    var replicas: [Replica]

    init(empty: T, seed: UInt64, steps: Int = 60, operation: (inout T, inout Replica, inout SplitMix64) -> Void) {
        var rng = SplitMix64(seed: seed)
        replicas = (1...3).map { Replica(state: empty, id: ReplicaID(UInt64($0) * 7 + seed % 5)) }
        for _ in 0..<steps {
            let i = Int.random(in: 0..<3, using: &rng)
            if rng.chance(0.2) {
                let j = Int.random(in: 0..<3, using: &rng)
                replicas[i].state.merge(replicas[j].state)
                replicas[i].vector.formUnion(replicas[j].vector)
            } else {
                var replica = replicas[i]
                var state = replica.state
                operation(&state, &replica, &rng)
                replica.state = state
                replica.vector[replica.id] = replica.counter
                replicas[i] = replica
            }
        }
    }

    var states: (T, T, T) { (replicas[0].state, replicas[1].state, replicas[2].state) }
}

extension History.Replica {
    /// Takes the next operation id of this replica.
    mutating func nextDot() -> Dot {
        defer { counter += 1 }
        return Dot(replica: id, counter: counter)
    }

    mutating func nextStamp(_ rng: inout SplitMix64) -> LWWStamp {
        LWWStamp(timestamp: HLCTimestamp(physical: UInt64.random(in: 0..<4, using: &rng), logical: counter), replica: id)
    }
}

enum Operations {
    static func gCounter(_ state: inout GCounter, _ replica: inout History<GCounter>.Replica, _ rng: inout SplitMix64) {
        state.increment(by: UInt64.random(in: 1...5, using: &rng), at: replica.nextDot())
    }

    static func pnCounter(_ state: inout PNCounter, _ replica: inout History<PNCounter>.Replica, _ rng: inout SplitMix64) {
        state.add(Int64.random(in: -5...5, using: &rng), at: replica.nextDot())
    }

    static func register(_ state: inout LWWRegister<CRDTValue>, _ replica: inout History<LWWRegister<CRDTValue>>.Replica, _ rng: inout SplitMix64) {
        let stamp = replica.nextStamp(&rng)
        state.set(.int(Int64.random(in: 0..<10, using: &rng)), stamp: stamp, dot: replica.nextDot())
    }

    static func set(_ state: inout ORSet<CRDTValue>, _ replica: inout History<ORSet<CRDTValue>>.Replica, _ rng: inout SplitMix64) {
        let element = CRDTValue.string(["a", "b", "c", "d"].randomElement(using: &rng)!)
        if rng.chance(0.35) { state.remove(element) } else { state.insert(element, at: replica.nextDot()) }
    }

    static func map(_ state: inout LWWMap<String, CRDTValue>, _ replica: inout History<LWWMap<String, CRDTValue>>.Replica, _ rng: inout SplitMix64) {
        let key = ["name", "bio", "avatar"].randomElement(using: &rng)!
        let stamp = replica.nextStamp(&rng)
        if rng.chance(0.3) {
            state.remove(key, stamp: stamp, dot: replica.nextDot())
        } else {
            state.set(key, to: .int(Int64.random(in: 0..<100, using: &rng)), stamp: stamp, dot: replica.nextDot())
        }
    }

    static func text(_ state: inout RGASequence<Unicode.Scalar>, _ replica: inout History<RGASequence<Unicode.Scalar>>.Replica, _ rng: inout SplitMix64) {
        if state.count > 0, rng.chance(0.3) {
            let index = Int.random(in: 0..<state.count, using: &rng)
            state.remove(at: index, count: Int.random(in: 1...min(3, state.count - index), using: &rng))
        } else {
            let scalars = (0..<Int.random(in: 1...3, using: &rng)).map { _ in Unicode.Scalar(UInt8.random(in: 97...122, using: &rng)) }
            state.insert(contentsOf: scalars, at: Int.random(in: 0...state.count, using: &rng), replica: replica.id, firstCounter: replica.counter)
            replica.counter += UInt64(scalars.count)
        }
    }
}

/// Checks the join-semilattice laws and the codec round trip, comparing canonical encodings.
func checkLaws<T: StateCRDT>(_ history: History<T>, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let (a, b, c) = history.states
    #expect(a.merging(b).encoded() == b.merging(a).encoded(), "commutative", sourceLocation: sourceLocation)
    #expect(a.merging(b).merging(c).encoded() == a.merging(b.merging(c)).encoded(), "associative", sourceLocation: sourceLocation)
    #expect(a.merging(a).encoded() == a.encoded(), "idempotent", sourceLocation: sourceLocation)
    #expect(a.merging(b).merging(b).encoded() == a.merging(b).encoded(), "merging twice is merging once", sourceLocation: sourceLocation)
    for state in [a, b, c] {
        let decoded = try T(decoding: state.encoded())
        #expect(decoded.encoded() == state.encoded(), "round trip", sourceLocation: sourceLocation)
        #expect(decoded == state, sourceLocation: sourceLocation)
    }
    // Delta law: what b sends a replica with a's state vector brings it to a ⊔ b.
    let vectorOfA = history.replicas[0].vector
    #expect(a.merging(b.delta(since: vectorOfA)).encoded() == a.merging(b).encoded(), "delta since a's vector", sourceLocation: sourceLocation)
    #expect(a.merging(b.delta(since: StateVector())).encoded() == a.merging(b).encoded(), "full delta", sourceLocation: sourceLocation)
}

@Suite("CRDT laws: merge is commutative, associative, idempotent; codecs round-trip")
struct LawTests {
    static let seeds: [UInt64] = Array(0..<40)

    @Test(arguments: seeds) func gCounter(seed: UInt64) throws {
        try checkLaws(History(empty: GCounter(), seed: seed, operation: Operations.gCounter))
    }

    @Test(arguments: seeds) func pnCounter(seed: UInt64) throws {
        try checkLaws(History(empty: PNCounter(), seed: seed, operation: Operations.pnCounter))
    }

    @Test(arguments: seeds) func lwwRegister(seed: UInt64) throws {
        try checkLaws(History(empty: LWWRegister<CRDTValue>(), seed: seed, operation: Operations.register))
    }

    @Test(arguments: seeds) func orSet(seed: UInt64) throws {
        try checkLaws(History(empty: ORSet<CRDTValue>(), seed: seed, operation: Operations.set))
    }

    @Test(arguments: seeds) func lwwMap(seed: UInt64) throws {
        try checkLaws(History(empty: LWWMap<String, CRDTValue>(), seed: seed, operation: Operations.map))
    }

    @Test(arguments: seeds) func sequence(seed: UInt64) throws {
        try checkLaws(History(empty: RGASequence<Unicode.Scalar>(), seed: seed, steps: 120, operation: Operations.text))
    }

    @Test(arguments: seeds) func stateVectorJoin(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        func random() -> StateVector {
            StateVector(Dictionary(uniqueKeysWithValues: (1...4).map { (ReplicaID($0), UInt64.random(in: 0..<5, using: &rng)) }))
        }
        let (a, b, c) = (random(), random(), random())
        #expect(a.union(b) == b.union(a))
        #expect(a.union(b).union(c) == a.union(b.union(c)))
        #expect(a.union(a) == a)
        #expect(a.isCovered(by: a.union(b)) && b.isCovered(by: a.union(b)))
        #expect(try StateVector(decoding: a.encoded()) == a)
    }

    @Test(arguments: seeds) func dotSetUnion(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        func random() -> DotSet {
            var set = DotSet()
            for _ in 0..<10 {
                let start = UInt64.random(in: 0..<40, using: &rng)
                set.insert(start..<start + UInt64.random(in: 1...5, using: &rng), of: ReplicaID(UInt64.random(in: 1...2, using: &rng)))
            }
            return set
        }
        let (a, b, c) = (random(), random(), random())
        #expect(a.union(b) == b.union(a))
        #expect(a.union(b).union(c) == a.union(b.union(c)))
        #expect(a.union(a) == a)
        var writer = BinaryWriter()
        a.encode(to: &writer)
        var reader = BinaryReader(writer.bytes)
        #expect(try DotSet(from: &reader) == a)
        // Membership agrees with a plain set of dots.
        var plain = Set<Dot>()
        for (replica, ranges) in a.ranges { for range in ranges { for counter in range { plain.insert(Dot(replica: replica, counter: counter)) } } }
        for counter in UInt64(0)..<50 {
            for replica in [ReplicaID(1), ReplicaID(2)] {
                let dot = Dot(replica: replica, counter: counter)
                #expect(a.contains(dot) == plain.contains(dot))
            }
        }
        #expect(a.count == UInt64(plain.count))
    }
}

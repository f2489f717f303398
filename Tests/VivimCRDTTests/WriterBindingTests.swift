import Testing
@testable import VivimCRDT

/// Security review finding 20, in the Sans-IO core: a view counter takes from a
/// peer only that peer's own replica entry, and remote updates cannot push a
/// document past its replica and byte bounds.
@Suite struct WriterBindingTests {
    static let server = ReplicaID(0x5e), honest = ReplicaID(0x40), attacker = ReplicaID(0xa7)

    /// What the attacker sends: its own view, plus a raised count for the
    /// server's replica, 200 invented replicas, and a relabelling of the server's entry.
    static func forgedDelta(since vector: StateVector) -> CRDTUpdate {
        var attacker = ViewCounter(contentId: "c", replica: Self.attacker)
        attacker.recordViews(1, servedBy: "peer-a")
        var raise = CRDTDocument(id: .views("c"), replica: Self.server)
        for _ in 0..<6 { _ = raise.nextDot() }  // beyond the server's own operations
        raise.increment("views", by: 1_000_000)
        attacker.document.apply(raise.update(since: StateVector()))
        for i in 0..<200 {
            var sybil = CRDTDocument(id: .views("c"), replica: ReplicaID(UInt64(1000 + i)))
            sybil.increment("views", by: 1)
            attacker.document.apply(sybil.update(since: StateVector()))
        }
        attacker.document.setValue(.string("peer-a"), forKey: String(Self.server.rawValue, radix: 16), inMap: "nodes", wallClock: .max)
        return attacker.document.update(since: vector)
    }

    static func serverCounter() -> ViewCounter {
        var counter = ViewCounter(contentId: "c", replica: Self.server)
        counter.recordViews(5, servedBy: "peer-s")
        var honest = ViewCounter(contentId: "c", replica: Self.honest)
        honest.recordViews(3, servedBy: "peer-h")
        counter.document.apply(ViewCounter.admitting(honest.document.update(since: StateVector()), writtenBy: Self.honest))
        return counter
    }

    @Test func aPeerWritesOnlyItsOwnEntry() {
        let counter = Self.serverCounter()
        let forged = Self.forgedDelta(since: counter.document.stateVector)

        // The scenario is real: merged as it comes (the old behaviour) it forges the total.
        var unguarded = counter.document
        unguarded.apply(forged)
        #expect(ViewCounter(unguarded).total > 1_000_000)
        #expect(ViewCounter(unguarded).servedByReplica.count > 200)

        for message in [SyncMessage.delta(forged), .update(forged)] {
            var core = CRDTSyncCore<String>(document: counter.document)
            _ = core.handle(.received(message.admittingViews(writtenBy: Self.attacker), from: "peer-a"))
            let result = ViewCounter(core.document)
            #expect(result.total == 5 + 3 + 1)
            #expect(result.servedByReplica == [Self.server: 5, Self.honest: 3, Self.attacker: 1])
            #expect(result.servedByNode == ["peer-s": 5, "peer-h": 3, "peer-a": 1])
            #expect(Set(core.document.stateVector.counts.keys) == [Self.server, Self.honest, Self.attacker])
        }
    }

    @Test func aRelayedEntryOfAnotherReplicaIsDropped() {
        // The honest peer's entry, relayed by the attacker, is not the attacker's to write.
        var honest = ViewCounter(contentId: "c", replica: Self.honest)
        honest.recordViews(3, servedBy: "peer-h")
        let relayed = ViewCounter.admitting(honest.document.update(since: StateVector()), writtenBy: Self.attacker)
        #expect(relayed.isEmpty)
        #expect(relayed.provides.isEmpty && relayed.requires.isEmpty)
        // An own entry without a matching state-vector count is dropped too.
        var bare = GCounter()
        bare.increment(by: 7, at: Dot(replica: Self.attacker, counter: 0))
        let unnamed = CRDTUpdate(document: .views("c"), requires: StateVector(), provides: StateVector(),
                                 fields: DocumentFields(gCounters: ["views": bare]))
        #expect(ViewCounter.admitting(unnamed, writtenBy: Self.attacker).isEmpty)
    }

    @Test func remoteUpdatesCannotPassTheReplicaBound() {
        var limits = CRDTSyncCore<String>.Limits()
        limits.maxReplicas = 4
        let counter = Self.serverCounter()
        var core = CRDTSyncCore<String>(document: counter.document, limits: limits)
        let before = core.document.encodedState()
        let actions = core.handle(.received(.delta(Self.forgedDelta(since: StateVector())), from: "relay"))
        #expect(actions == [.refused(.tooManyReplicas(limit: 4), from: "relay")])
        #expect(core.document.encodedState() == before)
        // Up to the bound, a replica is accepted.
        var one = CRDTDocument(id: .views("c"), replica: ReplicaID(3))
        one.increment("views")
        #expect(core.handle(.received(.update(one.update(since: StateVector())), from: "relay")) == [.documentChanged])
        var fourth = CRDTDocument(id: .views("c"), replica: ReplicaID(4))
        fourth.increment("views")
        #expect(core.handle(.received(.update(fourth.update(since: StateVector())), from: "relay")) == [.documentChanged])
        var fifth = CRDTDocument(id: .views("c"), replica: ReplicaID(6))
        fifth.increment("views")
        #expect(core.handle(.received(.update(fifth.update(since: StateVector())), from: "relay")) == [.refused(.tooManyReplicas(limit: 4), from: "relay")])
        #expect(core.document.stateVector.counts.count == 4)
    }

    @Test func remoteUpdatesCannotPassTheByteBound() {
        var limits = CRDTSyncCore<String>.Limits()
        limits.maxBytes = 4096
        var core = CRDTSyncCore<String>(document: CRDTDocument(id: .annotations("a"), replica: ReplicaID(1)), limits: limits)
        var writer = CRDTDocument(id: .annotations("a"), replica: ReplicaID(2))
        // Small updates are taken until the document would pass 4 KiB …
        var accepted = 0, refused = 0
        for i in 0..<100 {
            writer.insertText(String(repeating: "x", count: 100), at: 0, in: "t\(i)")
            let update = writer.takeLocalUpdate()!
            switch core.handle(.received(.update(update), from: "peer")) {
            case [.documentChanged]: accepted += 1
            case [.refused(.tooLarge(limit: 4096), from: "peer")]: refused += 1
            case let other: Issue.record("unexpected \(other)")
            }
        }
        #expect(accepted > 10 && refused > 10)
        #expect(core.document.byteCount <= 4096)
        // … and one large update is refused whole.
        var large = CRDTDocument(id: .annotations("a"), replica: ReplicaID(3))
        large.insertText(String(repeating: "y", count: 10_000), at: 0, in: "big")
        #expect(core.handle(.received(.delta(large.update(since: StateVector())), from: "peer")) == [.refused(.tooLarge(limit: 4096), from: "peer")])
        #expect(core.document.text("big").isEmpty)
    }

    @Test func bufferedUpdatesAreBoundedInBytes() {
        var reader = CRDTDocument(id: .annotations("a"), replica: ReplicaID(1))
        var writer = CRDTDocument(id: .annotations("a"), replica: ReplicaID(2))
        writer.insertText("first", at: 0, in: "t")
        _ = writer.takeLocalUpdate()  // lost: everything after waits for it
        for _ in 0..<200 {
            writer.insertText(String(repeating: "z", count: 50_000), at: 0, in: "t")
            reader.apply(writer.takeLocalUpdate()!)
        }
        #expect(reader.pendingUpdateCount > 0)
        #expect(reader.pendingByteCount <= CRDTDocument.maxPendingBytes)
        #expect(reader.pendingUpdateCount < 200)
    }
}

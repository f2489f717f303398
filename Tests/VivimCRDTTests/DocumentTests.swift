import Testing
@testable import VivimCRDT

@Suite("Documents: deltas, buffering, load and save")
struct DocumentTests {
    static let a = ReplicaID(1), b = ReplicaID(2), c = ReplicaID(3)

    @Test func eachFieldTypeReadsBackWhatWasWritten() {
        var doc = CRDTDocument(id: "profile", replica: Self.a)
        doc.increment("views", by: 3)
        doc.add(-2, toCounter: "balance")
        doc.setRegister("title", to: .string("Notes"), wallClock: 1_000)
        doc.insert(.string("x"), intoSet: "tags")
        doc.insert(.string("y"), intoSet: "tags")
        doc.remove(.string("x"), fromSet: "tags")
        doc.setValue(.string("Ada"), forKey: "name", inMap: "profile", wallClock: 1_000)
        doc.setValue(.string("bio"), forKey: "bio", inMap: "profile", wallClock: 1_000)
        doc.removeValue(forKey: "bio", inMap: "profile", wallClock: 1_000)
        doc.insertText("hello", at: 0, in: "body")
        doc.deleteText(at: 0, in: "body")
        doc.insert([.int(1), .int(2)], at: 0, inList: "order")
        #expect(doc.counter("views") == 3)
        #expect(doc.pnCounter("balance") == -2)
        #expect(doc.register("title") == .string("Notes"))
        #expect(doc.set("tags") == [.string("y")])
        #expect(doc.map("profile") == ["name": .string("Ada")])
        #expect(doc.text("body") == "ello")
        #expect(doc.list("order") == [.int(1), .int(2)])
    }

    @Test func saveAndLoadRoundTripAndNewOperationsContinueTheCounter() throws {
        var doc = CRDTDocument(id: "d", replica: Self.a)
        doc.insertText("abc", at: 0, in: "body")
        doc.increment("views")
        let saved = doc.save()
        var loaded = try CRDTDocument.load(saved, replica: Self.a)
        #expect(loaded.encodedState() == saved)
        #expect(loaded.text("body") == "abc")
        loaded.insertText("d", at: 3, in: "body")
        #expect(loaded.stateVector[Self.a] == 5) // 3 characters + 1 increment + 1 character
    }

    @Test func updateSinceAStateVectorCarriesOnlyWhatThePeerLacks() throws {
        var writer = CRDTDocument(id: "d", replica: Self.a)
        writer.insertText("hello", at: 0, in: "body")
        var reader = CRDTDocument(id: "d", replica: Self.b)
        reader.apply(writer.update(since: reader.stateVector))
        writer.insertText(" world", at: 5, in: "body")
        let delta = writer.update(since: reader.stateVector)
        let full = writer.update(since: StateVector())
        #expect(delta.encoded().count < full.encoded().count)
        #expect(delta.fields.texts["body"]?.canonicalRuns().runs.count == 1)
        #expect(reader.apply(delta) == .applied)
        #expect(reader.text("body") == "hello world")
        #expect(reader.encodedState() == writer.encodedState())
    }

    @Test func anUpdateThatArrivesBeforeItsDependencyIsBufferedThenApplied() {
        var writer = CRDTDocument(id: "d", replica: Self.a)
        writer.insertText("ab", at: 0, in: "body")
        let first = writer.takeLocalUpdate()!
        writer.insertText("c", at: 2, in: "body")
        let second = writer.takeLocalUpdate()!
        var reader = CRDTDocument(id: "d", replica: Self.b)
        #expect(reader.apply(second) == .buffered(missing: StateVector([Self.a: 2])))
        #expect(reader.text("body") == "")
        #expect(reader.pendingUpdateCount == 1)
        #expect(reader.apply(first) == .applied)
        #expect(reader.text("body") == "abc")
        #expect(reader.pendingUpdateCount == 0)
    }

    @Test func aLiveUpdateRequiresTheThirdPartyTextItWasTypedAfter() {
        var alice = CRDTDocument(id: "d", replica: Self.a)
        var bob = CRDTDocument(id: "d", replica: Self.b)
        var carol = CRDTDocument(id: "d", replica: Self.c)
        alice.insertText("hi", at: 0, in: "body")
        let fromAlice = alice.takeLocalUpdate()!
        bob.apply(fromAlice)
        bob.insertText("!", at: 2, in: "body")
        let fromBob = bob.takeLocalUpdate()!
        #expect(fromBob.requires[Self.a] == 2)
        #expect(carol.apply(fromBob) == .buffered(missing: StateVector([Self.a: 2])))
        carol.apply(fromAlice)
        #expect(carol.text("body") == "hi!")
    }

    @Test func duplicatesAndStaleUpdatesAreHarmless() {
        var writer = CRDTDocument(id: "d", replica: Self.a)
        writer.increment("views", by: 2)
        writer.insertText("x", at: 0, in: "body")
        let update = writer.takeLocalUpdate()!
        var reader = CRDTDocument(id: "d", replica: Self.b)
        for _ in 0..<3 { reader.apply(update) }
        reader.apply(writer.update(since: StateVector()))
        #expect(reader.counter("views") == 2)
        #expect(reader.text("body") == "x")
        #expect(reader.encodedState() == writer.encodedState())
    }

    @Test func anUpdateForAnotherDocumentIsIgnored() {
        var writer = CRDTDocument(id: "one", replica: Self.a)
        writer.increment("views")
        var other = CRDTDocument(id: "two", replica: Self.b)
        #expect(other.apply(writer.update(since: StateVector())) == .wrongDocument)
        #expect(other.counter("views") == 0)
    }

    @Test func concurrentAddAndRemoveInASetAddWins() {
        var alice = CRDTDocument(id: "d", replica: Self.a)
        alice.insert(.string("paper"), intoSet: "collection")
        var bob = CRDTDocument(id: "d", replica: Self.b)
        bob.apply(alice.takeLocalUpdate()!)
        bob.remove(.string("paper"), fromSet: "collection")   // removes the add it saw
        alice.insert(.string("paper"), intoSet: "collection") // concurrent re-add
        let fromBob = bob.takeLocalUpdate()!, fromAlice = alice.takeLocalUpdate()!
        alice.apply(fromBob)
        bob.apply(fromAlice)
        #expect(alice.set("collection") == [.string("paper")])
        #expect(alice.encodedState() == bob.encodedState())
    }

    @Test func lastWriterWinsByHybridTimeThenReplica() {
        var alice = CRDTDocument(id: "d", replica: Self.a)
        var bob = CRDTDocument(id: "d", replica: Self.b)
        alice.setValue(.string("Alice's"), forKey: "name", inMap: "profile", wallClock: 5_000)
        bob.setValue(.string("Bob's"), forKey: "name", inMap: "profile", wallClock: 5_000) // same millisecond
        let fromAlice = alice.takeLocalUpdate()!, fromBob = bob.takeLocalUpdate()!
        alice.apply(fromBob)
        bob.apply(fromAlice)
        #expect(alice.map("profile")["name"] == .string("Bob's")) // tie: higher replica id
        #expect(alice.encodedState() == bob.encodedState())
        // A writer whose wall clock lags still wins over what it has seen.
        alice.setValue(.string("later"), forKey: "name", inMap: "profile", wallClock: 1)
        bob.apply(alice.takeLocalUpdate()!)
        #expect(bob.map("profile")["name"] == .string("later"))
    }
}

@Suite("Hybrid logical clock")
struct HybridLogicalClockTests {
    @Test func followsPhysicalTimeWhenItAdvances() {
        var clock = HybridLogicalClock()
        #expect(clock.tick(now: 10) == HLCTimestamp(physical: 10, logical: 0))
        #expect(clock.tick(now: 20) == HLCTimestamp(physical: 20, logical: 0))
    }

    @Test func countsLogicallyWhenPhysicalTimeStallsOrGoesBack() {
        var clock = HybridLogicalClock()
        let first = clock.tick(now: 10)
        let second = clock.tick(now: 10)
        let third = clock.tick(now: 3)
        #expect(first < second && second < third)
        #expect(third == HLCTimestamp(physical: 10, logical: 2))
    }

    @Test func ordersAfterEveryObservedTimestamp() {
        var clock = HybridLogicalClock()
        clock.observe(HLCTimestamp(physical: 1_000, logical: 7))
        let next = clock.tick(now: 5)
        #expect(next > HLCTimestamp(physical: 1_000, logical: 7))
    }
}

import Testing
@testable import VivimCRDT

@Suite("RGA sequence")
struct SequenceTests {
    typealias Text = RGASequence<Unicode.Scalar>

    static func insert(_ text: inout Text, _ string: String, at index: Int, replica: ReplicaID, counter: inout UInt64) {
        text.insert(contentsOf: string.unicodeScalars, at: index, replica: replica, firstCounter: counter)
        counter += UInt64(string.unicodeScalars.count)
    }

    @Test func localEditsMatchAPlainArray() {
        var rng = SplitMix64(seed: 42)
        var text = Text()
        var model: [Unicode.Scalar] = []
        var counter: UInt64 = 0
        for step in 0..<5_000 {
            if !model.isEmpty, rng.chance(0.4) {
                let index = Int.random(in: 0..<model.count, using: &rng)
                let length = Int.random(in: 1...min(8, model.count - index), using: &rng)
                text.remove(at: index, count: length)
                model.removeSubrange(index..<index + length)
            } else {
                // Mostly typing near the previous edit, sometimes jumping.
                let index = Int.random(in: 0...model.count, using: &rng)
                let scalars = (0..<Int.random(in: 1...4, using: &rng)).map { _ in Unicode.Scalar(UInt8.random(in: 97...122, using: &rng)) }
                text.insert(contentsOf: scalars, at: index, replica: ReplicaID(1), firstCounter: counter)
                counter += UInt64(scalars.count)
                model.insert(contentsOf: scalars, at: index)
            }
            if step % 500 == 0 { #expect(text.elements == model) }
        }
        #expect(text.elements == model)
        #expect(text.count == model.count)
    }

    @Test func concurrentInsertsAtOnePositionOrderByDescendingTimestampThenReplica() {
        var base = Text()
        var c1: UInt64 = 0
        Self.insert(&base, "ab", at: 0, replica: ReplicaID(1), counter: &c1)
        var left = base, right = base
        var c2: UInt64 = 0, c3: UInt64 = 0
        Self.insert(&left, "X", at: 1, replica: ReplicaID(2), counter: &c2)
        Self.insert(&right, "Y", at: 1, replica: ReplicaID(3), counter: &c3)
        // Same Lamport timestamp: the higher replica id comes first.
        #expect(left.merging(right).text == "aYXb")
        #expect(right.merging(left).text == "aYXb")
    }

    @Test func aLaterInsertAtTheSamePlaceGoesFirst() {
        var base = Text()
        var c1: UInt64 = 0
        Self.insert(&base, "ab", at: 0, replica: ReplicaID(9), counter: &c1)
        var early = base, late = base
        var c2: UInt64 = 0, c3: UInt64 = 0
        Self.insert(&early, "1", at: 1, replica: ReplicaID(2), counter: &c2)
        Self.insert(&late, "xyz", at: 0, replica: ReplicaID(1), counter: &c3) // raises late's Lamport clock
        Self.insert(&late, "2", at: 4, replica: ReplicaID(1), counter: &c3)  // after "a", timestamp above "1"'s
        #expect(early.merging(late).text == "xyza21b")
        #expect(late.merging(early).text == "xyza21b")
    }

    @Test func concurrentRunsDoNotInterleaveCharacterByCharacter() {
        var base = Text()
        var c0: UInt64 = 0
        Self.insert(&base, "[]", at: 0, replica: ReplicaID(1), counter: &c0)
        var a = base, b = base
        var ca: UInt64 = 0, cb: UInt64 = 0
        for (i, ch) in "hello".enumerated() { Self.insert(&a, String(ch), at: 1 + i, replica: ReplicaID(2), counter: &ca) }
        for (i, ch) in "world".enumerated() { Self.insert(&b, String(ch), at: 1 + i, replica: ReplicaID(3), counter: &cb) }
        let merged = a.merging(b).text
        #expect(merged == "[worldhello]")
        #expect(b.merging(a).text == merged)
    }

    @Test func deletionOfAnElementNotYetReceivedAppliesOnArrival() {
        var origin = Text()
        var c: UInt64 = 0
        Self.insert(&origin, "abc", at: 0, replica: ReplicaID(1), counter: &c)
        var deleter = origin
        deleter.remove(at: 1)
        // A replica that gets the deletion first, then the insert.
        var late = Text()
        late.merge(deleter.delta(since: StateVector([ReplicaID(1): 3])))
        #expect(late.isEmpty)
        late.merge(origin)
        #expect(late.text == "ac")
        #expect(late == deleter)
    }

    @Test func typingAndBackspacingKeepsRunsCoalesced() {
        var text = Text()
        var counter: UInt64 = 0
        for i in 0..<1000 { Self.insert(&text, "x", at: i, replica: ReplicaID(1), counter: &counter) }
        for i in stride(from: 999, through: 500, by: -1) { text.remove(at: i) }
        #expect(text.count == 500)
        // One live run and one deleted run, however many keystrokes made them.
        #expect(text.canonicalRuns().runs.count == 2)
        #expect(text.order.reduce(0) { $0 + text.chunks[Int($1)].count } <= 3)
    }

    @Test func editingTraceReplaysToTheFinalText() throws {
        let trace = try EditingTrace.load(path: TestData.editingTracePath)
        #expect(trace.edits.count == 259_778)
        let text = trace.replay()
        #expect(text.count == trace.finalText.unicodeScalars.count)
        #expect(text.text == trace.finalText)

        // Its encoded form loads, and merges into a fresh replica, to the same text.
        let encoded = text.encoded()
        let loaded = try Text(decoding: encoded)
        #expect(loaded.text == trace.finalText)
        var fresh = Text()
        fresh.merge(loaded)
        #expect(fresh.text == trace.finalText)
        #expect(fresh.encoded() == encoded)
    }

    @Test func editingTraceThroughADocumentSyncsToAnotherReplica() throws {
        let trace = try EditingTrace.load(path: TestData.editingTracePath)
        var writer = CRDTDocument(id: "paper", replica: ReplicaID(1))
        var reader = CRDTDocument(id: "paper", replica: ReplicaID(2))
        for (index, edit) in trace.edits.enumerated() {
            if edit.deleteCount > 0 { writer.deleteText(at: edit.position, count: edit.deleteCount, in: "body") }
            if !edit.text.isEmpty { writer.insertText(edit.text, at: edit.position, in: "body") }
            // Ship live updates in batches, as a client would.
            if index % 5_000 == 4_999, let update = writer.takeLocalUpdate() {
                #expect(reader.apply(try CRDTUpdate(decoding: update.encoded())) == .applied)
            }
        }
        if let update = writer.takeLocalUpdate() { reader.apply(update) }
        #expect(writer.text("body") == trace.finalText)
        #expect(reader.text("body") == trace.finalText)
        #expect(reader.encodedState() == writer.encodedState())
    }
}

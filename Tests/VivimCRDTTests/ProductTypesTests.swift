import Testing
@testable import VivimCRDT

/// The product layers (view counters, shared collections, annotation threads,
/// the offline action queue) converge like the documents under them.
@Suite("Product types over CRDT documents")
struct ProductTypesTests {
    /// Brings every replica up to date with every other, through `update(since:)`.
    static func syncAll(_ documents: inout [CRDTDocument]) {
        for _ in 0..<2 {
            for i in documents.indices {
                for j in documents.indices where i != j {
                    documents[j].apply(documents[i].update(since: documents[j].stateVector))
                }
            }
        }
    }

    static func views(_ n: Int) -> [ViewCounter] { (1...n).map { ViewCounter(contentId: "c1", replica: ReplicaID(UInt64($0))) } }

    @Test func namespacedIdsParseAndRejectMalformedKeys() {
        #expect(DocumentID.views("abc").rawValue == "views:abc")
        #expect(DocumentID.collection("k").namespaced?.namespace == .collection)
        #expect(DocumentID.annotations("conv-1").namespaced?.key == "conv-1")
        #expect(DocumentID("views:").namespaced == nil)
        #expect(DocumentID("views:has space").namespaced == nil)
        #expect(DocumentID("profile:x").namespaced == nil)
        #expect(DocumentID("views:" + String(repeating: "a", count: 257)).namespaced == nil)
        #expect(ViewCounter.accepts(.views("x")) && !ViewCounter.accepts(.collection("x")))
    }

    @Test func viewCountsFromEveryNodeAddUpAndRedeliveryNeverDoubleCounts() {
        var counters = Self.views(3)
        counters[0].recordViews(5, servedBy: "node-a", wallClock: 1)
        counters[1].recordViews(3, servedBy: "node-b", wallClock: 1)
        counters[2].recordViews(1)
        var documents = counters.map(\.document)
        Self.syncAll(&documents)
        // Deliver everything again, in reverse, twice: merge takes maxima, it does not add.
        for _ in 0..<2 { for i in documents.indices.reversed() { documents[0].apply(documents[i].update(since: StateVector())) } }
        let merged = documents.map(ViewCounter.init)
        #expect(merged.allSatisfy { $0.total == 9 })
        #expect(merged[0].served(by: ReplicaID(2)) == 3)
        #expect(merged[0].servedByNode == ["node-a": 5, "node-b": 3, "3": 1])
        #expect(Set(documents.map { $0.encodedState() }).count == 1)
    }

    @Test func aCollectionKeepsConcurrentAddsAndAnAddWinsOverAConcurrentRemove() {
        var a = SharedCollection(id: "reading", replica: ReplicaID(1))
        a.add("c1")
        a.add("c2")
        var b = SharedCollection(b: a, replica: ReplicaID(2))
        a.remove("c1")  // A removes c1 while …
        b.add("c1")     // … B adds it again concurrently: add wins.
        b.add("c3")
        a.setTitle("Reading list", wallClock: 5)
        var documents = [a.document, b.document]
        Self.syncAll(&documents)
        let merged = documents.map(SharedCollection.init)
        #expect(merged.allSatisfy { $0.contentIds == ["c1", "c2", "c3"] && $0.title == "Reading list" })
        #expect(documents[0].encodedState() == documents[1].encodedState())
        // A remove that has seen every add removes it everywhere.
        var left = merged[0]
        left.remove("c1")
        var again = [left.document, documents[1]]
        Self.syncAll(&again)
        #expect(again.map { SharedCollection($0).contentIds } == [["c2", "c3"], ["c2", "c3"]])
    }

    static func note(_ id: String, _ body: String, by author: String = "did:key:a") -> AnnotationThread.Annotation {
        .init(id: id, body: body, author: author, anchor: .init(messageId: "m1", acuId: "acu-2"), createdAt: 100)
    }

    @Test func concurrentAnnotationInsertsEditsAndDeletesConverge() {
        var a = AnnotationThread(contentId: "conv-1", replica: ReplicaID(1))
        a.insert(Self.note("n1", "first"), wallClock: 10)
        var b = AnnotationThread(AnnotationThread(contentId: "conv-1", replica: ReplicaID(2)).document)
        b.document.apply(a.document.update(since: StateVector()))
        var c = AnnotationThread(contentId: "conv-1", replica: ReplicaID(3))
        c.document.apply(a.document.update(since: StateVector()))

        a.insert(Self.note("n2", "from a"), wallClock: 20)               // concurrent appends …
        b.insert(Self.note("n3", "from b", by: "did:key:b"), wallClock: 20)
        c.insert(Self.note("n4", "from c at the top"), at: 0, wallClock: 20)
        a.edit("n1", body: "edited by a", wallClock: 30)                  // … concurrent edits (b's is later) …
        b.edit("n1", body: "edited by b", wallClock: 31)
        c.delete("n1")                                                    // … and a delete of what they edit.
        let editedAfterDelete = c.edit("n1", body: "gone", wallClock: 40)
        #expect(!editedAfterDelete)

        var documents = [a.document, b.document, c.document]
        Self.syncAll(&documents)
        let threads = documents.map(AnnotationThread.init)
        #expect(Set(documents.map { $0.encodedState() }).count == 1)
        #expect(threads[0].ids.count == 3 && threads[0].ids.first == "n4" && !threads[0].ids.contains("n1"))
        #expect(threads.allSatisfy { $0.ids == threads[0].ids && $0.annotations == threads[0].annotations })
        #expect(threads[0].annotation("n1")?.body == "edited by b")  // the hidden annotation still converged
        #expect(threads[0].annotation("n3")?.anchor == .init(messageId: "m1", acuId: "acu-2"))
    }

    @Test func queuedActionsMergeWithoutLossOrDuplicationAndApplyOnce() throws {
        var phone = OfflineActionQueue(owner: "did:key:u", replica: ReplicaID(1))
        var laptop = OfflineActionQueue(owner: "did:key:u", replica: ReplicaID(2))
        let recorded = [
            phone.record(.accept(intentId: "i1"), operationId: "op-1", wallClock: 10),
            phone.record(.accept(intentId: "i1"), operationId: "op-1", wallClock: 11),  // a retry
            phone.record(.addToCollection(collectionId: "k", contentId: "c9"), operationId: "op-2", wallClock: 12),
            laptop.record(.accept(intentId: "i1"), operationId: "op-1", wallClock: 10),  // the same action, recorded on both
            laptop.record(.view(contentId: "c9"), operationId: "op-3", wallClock: 13),
            laptop.record(.annotate(contentId: "conv-1", annotation: Self.note("n1", "hi")), operationId: "op-4", wallClock: 14),
            laptop.record(.decline(intentId: "x"), operationId: "", wallClock: 1),
        ]
        #expect(recorded == [true, false, true, true, true, true, false])

        var documents = [phone.document, laptop.document]
        Self.syncAll(&documents)
        #expect(documents[0].encodedState() == documents[1].encodedState())
        var queue = OfflineActionQueue(documents[0])
        try #require(queue.entries.map(\.operationId) == ["op-1", "op-2", "op-3", "op-4"])

        // The home node drains: document actions change their documents, each once.
        var targets: [DocumentID: CRDTDocument] = [:]
        var external: [String] = []
        for entry in queue.pending {
            if let target = entry.action.targetDocument {
                entry.action.apply(to: &targets[target, default: CRDTDocument(id: target, replica: ReplicaID(9))], wallClock: 50)
            } else {
                external.append(entry.operationId)
            }
            queue.markApplied(entry.operationId, wallClock: 50)
        }
        #expect(external == ["op-1"])
        #expect(queue.pending.isEmpty)
        #expect(ViewCounter(targets[.views("c9")]!).total == 1)
        #expect(SharedCollection(targets[.collection("k")]!).contentIds == ["c9"])
        #expect(AnnotationThread(targets[.annotations("conv-1")]!).ids == ["n1"])

        // The applied marks reach the phone: nothing is pending there either.
        var back = [documents[0], queue.document]
        Self.syncAll(&back)
        #expect(OfflineActionQueue(back[0]).pending.isEmpty)
    }

    @Test func shareActionsRoundTripAndMalformedBytesThrow() throws {
        let actions: [ShareAction] = [
            .accept(intentId: "i"), .decline(intentId: "j"), .view(contentId: "c"),
            .addToCollection(collectionId: "k", contentId: "c"), .removeFromCollection(collectionId: "k", contentId: "c"),
            .annotate(contentId: "c", annotation: Self.note("n", "body")),
            .annotate(contentId: "c", annotation: .init(id: "n", body: "", author: "a", anchor: .init(messageId: "m"), createdAt: 0)),
        ]
        var rng = SplitMix64(seed: 6)
        for action in actions {
            var writer = BinaryWriter()
            writer.write(action)
            var reader = BinaryReader(writer.bytes)
            #expect(try reader.read(ShareAction.self) == action)
            for length in 0..<writer.bytes.count {
                let short = Array(writer.bytes[..<length])
                #expect(throws: (any Error).self) {
                    var reader = BinaryReader(short)
                    return try reader.read(ShareAction.self)
                }
            }
            for _ in 0..<200 {
                var bytes = writer.bytes
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                var mutated = BinaryReader(bytes)
                _ = try? mutated.read(ShareAction.self)
            }
        }
    }

    /// Random histories of every product type on 4 replicas, exchanged as live
    /// updates with drops, duplicates and reordering, then healed by sync.
    @Test(arguments: 0..<20)
    func randomHistoriesConvergeByteForByte(seed: UInt64) {
        var rng = SplitMix64(seed: 1000 + seed)
        let ids: [DocumentID] = [.views("c"), .collection("k"), .annotations("c"), .actions("u")]
        for id in ids {
            var replicas = (1...4).map { CRDTDocument(id: id, replica: ReplicaID($0 * 7 + seed)) }
            var inFlight: [CRDTUpdate] = []
            for step in 0..<60 {
                let i = Int.random(in: 0..<replicas.count, using: &rng)
                let time = UInt64(step)
                let key = "x\(Int.random(in: 0..<6, using: &rng))"
                switch id.namespaced!.namespace {
                case .views:
                    ViewCounter.modify(&replicas[i]) { $0.recordViews(UInt64.random(in: 1...3, using: &rng)) }
                case .collection:
                    SharedCollection.modify(&replicas[i]) { rng.chance(0.6) ? $0.add(key) : $0.remove(key) }
                case .annotations:
                    AnnotationThread.modify(&replicas[i]) { thread in
                        switch Int.random(in: 0..<3, using: &rng) {
                        case 0: thread.insert(Self.note("\(i)-\(step)", "b"), at: Int.random(in: 0...thread.ids.count, using: &rng), wallClock: time)
                        case 1: if let target = thread.ids.randomElement(using: &rng) { thread.edit(target, body: "e\(step)", wallClock: time) }
                        default: if let target = thread.ids.randomElement(using: &rng) { thread.delete(target) }
                        }
                    }
                case .actions:
                    OfflineActionQueue.modify(&replicas[i]) { queue in
                        if rng.chance(0.7) { queue.record(.view(contentId: key), operationId: key, wallClock: time) } else { queue.markApplied(key, wallClock: time) }
                    }
                }
                if let update = replicas[i].takeLocalUpdate() {
                    if !rng.chance(0.2) { inFlight.append(update) }     // 20 % lost
                    if rng.chance(0.1) { inFlight.append(update) }      // 10 % duplicated
                }
                if rng.chance(0.3), !inFlight.isEmpty {                 // delivered out of order
                    let update = inFlight.remove(at: Int.random(in: 0..<inFlight.count, using: &rng))
                    for j in replicas.indices { replicas[j].apply(update) }
                }
            }
            Self.syncAll(&replicas)
            #expect(Set(replicas.map { $0.encodedState() }).count == 1, "seed \(seed) \(id)")
        }
    }
}

extension SharedCollection {
    /// A second replica of `other`'s collection with its current state.
    init(b other: SharedCollection, replica: ReplicaID) {
        var document = CRDTDocument(id: other.id, replica: replica)
        document.apply(other.document.update(since: StateVector()))
        self.init(document)
    }
}

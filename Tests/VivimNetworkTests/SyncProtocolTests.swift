import Testing
import VivimCRDT
@testable import VivimNetwork

/// `/vivim/sync/1.0.0` frames: round trips, bounds, and a mutation fuzz of the
/// decoder (the same shape as `DecoderFuzzTests`).
@Suite struct SyncProtocolTests {
    static func sampleDocument() -> CRDTDocument {
        var doc = CRDTDocument(id: .annotations("conv-1"), replica: ReplicaID(5))
        AnnotationThread.modify(&doc) {
            $0.insert(.init(id: "n1", body: "hello", author: "did:key:a", anchor: .init(messageId: "m1"), createdAt: 1), wallClock: 1)
        }
        doc.increment("views", by: 3)
        doc.insert(.string("c1"), intoSet: "items")
        return doc
    }

    static func seeds() -> [[UInt8]] {
        let doc = Self.sampleDocument()
        return [
            SyncProtocol.Frame.messages([.stateVector(doc.id, doc.stateVector), .stateVector(.views("x"), StateVector())]).body,
            SyncProtocol.Frame.messages([.delta(doc.update(since: StateVector()))]).body,
            SyncProtocol.Frame.denied([.collection("k"), .views("c")]).body,
        ]
    }

    @Test func framesRoundTrip() throws {
        let doc = Self.sampleDocument()
        let frames: [SyncProtocol.Frame] = [
            .messages([.stateVector(doc.id, doc.stateVector)]),
            .messages([.delta(doc.update(since: StateVector())), .update(doc.update(since: doc.stateVector))]),
            .denied([.collection("k")]),
        ]
        for frame in frames {
            #expect(try SyncProtocol.Frame(decoding: frame.body) == frame)
            var framed = frame.framed
            #expect(try VarintFrame.decode(&framed, maxLength: 1 << 20) == frame.body)
        }
    }

    @Test func boundsAreEnforced() throws {
        var limits = SyncProtocol.Limits()
        limits.maxDocumentsPerFrame = 2
        let three = SyncProtocol.Frame.denied([.views("a"), .views("b"), .views("c")]).body
        #expect(throws: SyncProtocol.Error.tooManyDocuments(count: 3, limit: 2)) { try SyncProtocol.Frame(decoding: three, limits: limits) }
        limits.maxFrameLength = 8
        #expect(throws: SyncProtocol.Error.self) { try SyncProtocol.Frame(decoding: Self.seeds()[1], limits: limits) }
        let long = SyncProtocol.Frame.denied([DocumentID(String(repeating: "x", count: DocumentID.maxLength + 1))]).body
        #expect(throws: SyncProtocol.Error.documentIDTooLong(DocumentID.maxLength + 1)) { try SyncProtocol.Frame(decoding: long) }
        #expect(throws: SyncProtocol.Error.emptyFrame) { try SyncProtocol.Frame(decoding: [1, 2, 0]) }
        #expect(throws: SyncProtocol.Error.unsupportedVersion(2)) { try SyncProtocol.Frame(decoding: [2, 1, 1]) }
        #expect(throws: SyncProtocol.Error.unknownTag(9)) { try SyncProtocol.Frame(decoding: [1, 9, 1]) }
        // A count claiming 2^60 messages is refused before anything is allocated.
        #expect(throws: SyncProtocol.Error.self) { try SyncProtocol.Frame(decoding: [1, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]) }
        #expect(throws: SyncProtocol.Error.self) { try SyncProtocol.Frame(decoding: Self.seeds()[2] + [0]) }
    }

    @Test func mutatedFramesNeverTrap() {
        var decoded = 0
        for input in DecoderFuzzTests.mutations(of: Self.seeds(), seed: 77) {
            if (try? SyncProtocol.Frame(decoding: input)) != nil { decoded += 1 }
            // A decoded frame's messages also go through a sync core: it must not trap either.
            if case .messages(let messages)? = try? SyncProtocol.Frame(decoding: input) {
                var core = CRDTSyncCore<Int>(document: Self.sampleDocument())
                for m in messages { _ = core.handle(.received(m, from: 1)) }
            }
        }
        #expect(decoded > 0)
    }

    @Test func everyTruncationThrows() {
        for seed in Self.seeds() {
            for length in 0..<seed.count {
                #expect(throws: SyncProtocol.Error.self) { try SyncProtocol.Frame(decoding: Array(seed[..<length])) }
            }
        }
    }
}

import Testing
@testable import VivimCRDT
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

    /// SPEC §8.1: every field of every frame (version, tag, count, and each field
    /// of the messages or ids inside: lengths, replica ids, counters, clocks,
    /// lamport timestamps, sequence indices) set to each of `extremeWireValues`,
    /// truncated to the field's width. Each variant decodes or throws a
    /// `SyncProtocol.Error`; decoded messages go through a sync core (as a view
    /// counter's admission too) and back out as frames, without trapping.
    @Test func extremeValuesInEveryFieldNeverTrap() {
        var views = ViewCounter(contentId: "c", replica: ReplicaID(3))
        views.recordViews(4, servedBy: "peer")
        let seeds = Self.seeds() + [SyncProtocol.Frame.messages([.update(views.document.update(since: StateVector()))]).body]
        var variants = 0, decoded = 0
        for seed in seeds {
            var reader = BinaryReader(seed)
            reader.fieldTrace = []
            do {
                _ = try reader.readByte()
                let tag = try reader.readByte()
                let count = try reader.readVarint()
                for _ in 0..<count {
                    if tag == 1 { _ = try SyncMessage(from: &reader) } else { _ = try DocumentID(from: &reader) }
                }
            } catch {
                Issue.record("seed does not decode: \(error)")
            }
            let fields = reader.fieldTrace ?? []
            #expect(fields.count > 3)
            for field in fields {
                for value in extremeWireValues {
                    let input = field.replaced(in: seed, with: value)
                    variants += 1
                    do {
                        let frame = try SyncProtocol.Frame(decoding: input)
                        decoded += 1
                        #expect(frame.body.count <= 4 * input.count + 256)
                        guard case .messages(let messages) = frame else { continue }
                        var core = CRDTSyncCore<PeerID>(document: Self.sampleDocument())
                        var counter = CRDTSyncCore<PeerID>(document: views.document)
                        var out = Outbox()
                        for message in messages {
                            out.add(core.handle(.received(message, from: Self.somePeer)))
                            _ = counter.handle(.received(message.admittingViews(writtenBy: ReplicaID(peer: Self.somePeer)), from: Self.somePeer))
                        }
                        for (_, frames) in out.frames(limits: .init()) {
                            for framed in frames {
                                var bytes = framed
                                let body = try VarintFrame.decode(&bytes, maxLength: 8 << 20)
                                _ = try body.map { try SyncProtocol.Frame(decoding: $0) }
                            }
                        }
                        _ = core.document.encodedState()
                        _ = ViewCounter(counter.document).total
                    } catch {
                        #expect(error is SyncProtocol.Error, "\(error)")
                    }
                }
            }
        }
        #expect(variants > 300 && decoded > 0)
    }

    static let somePeer = PeerKeyPair().peerID

    @Test func everyTruncationThrows() {
        for seed in Self.seeds() {
            for length in 0..<seed.count {
                #expect(throws: SyncProtocol.Error.self) { try SyncProtocol.Frame(decoding: Array(seed[..<length])) }
            }
        }
    }
}

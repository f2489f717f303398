import Testing
@testable import VivimCRDT

/// SPEC §8.1 (wire tolerance): every count, length, index, counter, clock and
/// timestamp of every CRDT encoding set to each of `extremeWireValues`, one
/// field at a time. Each variant either decodes, or throws a `CRDTDecodingError`;
/// a decoded value is then merged, extended by local operations, diffed and
/// encoded again, none of which may trap, and its re-encoding stays within a
/// fixed multiple of the input (no allocation the input does not pay for).
@Suite("Extreme values in every field of every CRDT encoding")
struct WireExtremesTests {
    /// A document using every field type, edited by two replicas.
    static func sampleDocument() -> CRDTDocument {
        var other = CRDTDocument(id: "wire", replica: ReplicaID(9))
        other.insertText("xy", at: 0, in: "body")
        var doc = CRDTDocument(id: "wire", replica: ReplicaID(77))
        doc.apply(other.update(since: StateVector()))
        doc.insertText("hello", at: 1, in: "body")
        doc.deleteText(at: 2, count: 2, in: "body")
        doc.increment("views", by: 9)
        doc.add(-4, toCounter: "balance")
        doc.insert(.bytes([1, 2, 3]), intoSet: "set")
        doc.remove(.bytes([1, 2, 3]), fromSet: "set")
        doc.insert(.int(-7), intoSet: "set")
        doc.setValue(.bool(true), forKey: "k", inMap: "m", wallClock: 9)
        doc.setRegister("r", to: .string("v"), wallClock: 10)
        doc.insert([.string("a"), .int(-7), .double(2.5), .null], at: 0, inList: "l")
        doc.delete(at: 1, inList: "l")
        return doc
    }

    /// Decodes `bytes` as `T` with the framing of `T(decoding:)`, for the field trace.
    static func framed<T: VersionedBinaryCodable>(_: T.Type) -> (inout BinaryReader) throws -> Void {
        { reader in
            _ = try reader.readByte()
            _ = try reader.readByte()
            _ = try T(from: &reader)
            try reader.expectEnd()
        }
    }

    static func documentLayout(_ reader: inout BinaryReader) throws {
        _ = try reader.readByte()
        _ = try reader.readByte()
        _ = try reader.read(DocumentID.self)
        _ = try reader.read(StateVector.self)
        _ = try DocumentFields(from: &reader)
        try reader.expectEnd()
    }

    /// A decoded document keeps working: local edits of every kind, a packaged
    /// update, a delta, an encoding.
    static func use(_ document: inout CRDTDocument) {
        document.increment("views", by: .max)
        document.add(.min, toCounter: "balance")
        document.insertText("z", at: 0, in: "body")
        document.insertText("q", at: document.textLength("body"), in: "body")
        if document.textLength("body") > 0 { document.deleteText(at: 0, in: "body") }
        document.insert([.int(1)], at: document.listLength("l"), inList: "l")
        document.setValue(.null, forKey: "k", inMap: "m", wallClock: .max)
        document.setRegister("r", to: .bool(false), wallClock: .max)
        document.insert(.null, intoSet: "set")
        document.remove(.int(-7), fromSet: "set")
        _ = document.takeLocalUpdate()?.encoded()
        _ = document.update(since: StateVector([ReplicaID(9): 1])).encoded()
        _ = document.encodedState()
    }

    static func expectDecodingError(_ error: any Error, _ input: [UInt8]) {
        #expect(error is CRDTDecodingError, "\(error) for \(input)")
    }

    static func expectBounded(_ output: [UInt8], _ input: [UInt8]) {
        #expect(output.count <= 4 * input.count + 256, "re-encoding of \(output.count) bytes from \(input.count)")
    }

    @Test func syncMessagesAndUpdates() {
        var doc = Self.sampleDocument()
        let state = Self.sampleDocument()
        doc.insertText("!", at: 3, in: "body")
        let live = doc.takeLocalUpdate()!
        let samples: [[UInt8]] = [
            SyncMessage.delta(state.update(since: StateVector())).encoded(),
            SyncMessage.update(live).encoded(),
            SyncMessage.stateVector("wire", state.stateVector).encoded(),
        ]
        var variants = 0
        for sample in samples {
            for input in WireFields.extremeVariants(of: sample, Self.framed(SyncMessage.self)) {
                variants += 1
                do {
                    let message = try SyncMessage(decoding: input)
                    Self.expectBounded(message.encoded(), input)
                    var core = CRDTSyncCore<Int>(document: Self.sampleDocument())
                    _ = core.handle(.received(message, from: 1))
                    _ = core.handle(.antiEntropyTick)
                    var document = core.document
                    Self.use(&document)
                    var fresh = CRDTDocument(id: "wire", replica: ReplicaID(1))
                    if case .delta(let update) = message { fresh.apply(update) }
                    if case .update(let update) = message { fresh.apply(update) }
                    Self.use(&fresh)
                    _ = ViewCounter(fresh).servedByNode
                } catch {
                    Self.expectDecodingError(error, input)
                }
            }
        }
        #expect(variants > 500)
    }

    @Test func savedDocuments() {
        let sample = Self.sampleDocument().encodedState()
        let variants = WireFields.extremeVariants(of: sample) { try Self.documentLayout(&$0) }
        #expect(variants.count > 300)
        for input in variants {
            do {
                var document = try CRDTDocument.load(input, replica: ReplicaID(77))
                Self.expectBounded(document.encodedState(), input)
                Self.use(&document)
                var other = CRDTDocument(id: document.id, replica: ReplicaID(5))
                other.apply(document.update(since: StateVector()))
                Self.use(&other)
            } catch {
                Self.expectDecodingError(error, input)
            }
        }
    }

    /// Each CRDT type alone: decode, merge both ways with a sample, delta, encode.
    static func exercise<T: StateCRDT>(_ type: T.Type, _ sample: T) -> Int {
        let variants = WireFields.extremeVariants(of: sample.encoded(), Self.framed(T.self))
        for input in variants {
            do {
                var decoded = try T(decoding: input)
                Self.expectBounded(decoded.encoded(), input)
                var mine = sample
                mine.merge(decoded)
                decoded.merge(sample)
                _ = decoded.delta(since: StateVector([ReplicaID(9): 1, ReplicaID(77): .max >> 2])).encoded()
                _ = mine.encoded()
            } catch {
                Self.expectDecodingError(error, input)
            }
        }
        return variants.count
    }

    @Test func everyCRDTType() {
        let doc = Self.sampleDocument()
        let fields = doc.fields
        var count = 0
        count += Self.exercise(GCounter.self, fields.gCounters["views"]!)
        count += Self.exercise(PNCounter.self, fields.pnCounters["balance"]!)
        count += Self.exercise(LWWRegister<CRDTValue>.self, fields.registers["r"]!)
        count += Self.exercise(ORSet<CRDTValue>.self, fields.sets["set"]!)
        count += Self.exercise(LWWMap<String, CRDTValue>.self, fields.maps["m"]!)
        count += Self.exercise(RGASequence<Unicode.Scalar>.self, fields.texts["body"]!)
        count += Self.exercise(RGASequence<CRDTValue>.self, fields.lists["l"]!)
        #expect(count > 300)
        for input in WireFields.extremeVariants(of: doc.stateVector.encoded(), Self.framed(StateVector.self)) {
            do {
                var vector = try StateVector(decoding: input)
                vector.formUnion(doc.stateVector)
                _ = vector.intersection(doc.stateVector)
                _ = vector.isCovered(by: doc.stateVector)
            } catch {
                Self.expectDecodingError(error, input)
            }
        }
        for input in WireFields.extremeVariants(of: doc.update(since: StateVector()).encoded(), Self.framed(CRDTUpdate.self)) {
            do {
                let update = try CRDTUpdate(decoding: input)
                var target = Self.sampleDocument()
                target.apply(update)
                Self.use(&target)
            } catch {
                Self.expectDecodingError(error, input)
            }
        }
    }

    /// The HLC never traps, whatever timestamp a peer sends.
    @Test func clocksSaturateOrWrapWithoutTrapping() {
        for physical in extremeWireValues {
            for logical in extremeWireValues {
                var clock = HybridLogicalClock()
                clock.observe(HLCTimestamp(physical: physical, logical: logical))
                for now in extremeWireValues { _ = clock.tick(now: now) }
                #expect(clock.last.physical >= physical)
            }
        }
    }
}

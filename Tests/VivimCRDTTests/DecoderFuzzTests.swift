import Testing
@testable import VivimCRDT

/// Decoders read network bytes: truncated, bit-flipped or random input must
/// throw `CRDTDecodingError` (or decode to something), never trap.
@Suite("Decoders reject malformed input without crashing")
struct DecoderFuzzTests {
    static func sampleMessages() -> [[UInt8]] {
        var doc = CRDTDocument(id: "fuzz", replica: ReplicaID(77))
        doc.insertText("hello, world", at: 0, in: "body")
        doc.deleteText(at: 3, count: 4, in: "body")
        doc.increment("views", by: 9)
        doc.add(-4, toCounter: "balance")
        doc.insert(.bytes([1, 2, 3]), intoSet: "set")
        doc.remove(.bytes([1, 2, 3]), fromSet: "set")
        doc.insert(.double(2.5), intoSet: "set")
        doc.setValue(.bool(true), forKey: "k", inMap: "m", wallClock: 9)
        doc.setRegister("r", to: .null, wallClock: 9)
        doc.insert([.string("a"), .int(-7)], at: 0, inList: "l")
        return [
            SyncMessage.delta(doc.update(since: StateVector())).encoded(),
            SyncMessage.stateVector("fuzz", doc.stateVector).encoded(),
            doc.encodedState(),
        ]
    }

    static func decodeAll(_ bytes: [UInt8]) {
        _ = try? SyncMessage(decoding: bytes)
        _ = try? CRDTUpdate(decoding: bytes)
        _ = try? CRDTDocument.load(bytes, replica: ReplicaID(1))
        _ = try? RGASequence<Unicode.Scalar>(decoding: bytes)
        _ = try? ORSet<CRDTValue>(decoding: bytes)
        _ = try? LWWMap<String, CRDTValue>(decoding: bytes)
        _ = try? GCounter(decoding: bytes)
        _ = try? StateVector(decoding: bytes)
    }

    @Test func validInputRoundTrips() throws {
        let samples = Self.sampleMessages()
        #expect(try SyncMessage(decoding: samples[0]).encoded() == samples[0])
        #expect(try SyncMessage(decoding: samples[1]).encoded() == samples[1])
        #expect(try CRDTDocument.load(samples[2], replica: ReplicaID(1)).encodedState() == samples[2])
    }

    @Test func everyTruncationThrows() {
        for sample in Self.sampleMessages() {
            for length in 0..<sample.count {
                #expect(throws: CRDTDecodingError.self) { try SyncMessage(decoding: Array(sample[..<length])) }
                #expect(throws: (any Error).self) { try CRDTDocument.load(Array(sample[..<length]), replica: ReplicaID(1)) }
            }
        }
    }

    @Test func trailingBytesAndUnknownVersionsThrow() {
        let sample = Self.sampleMessages()[0]
        #expect(throws: CRDTDecodingError.trailingBytes(1)) { try SyncMessage(decoding: sample + [0]) }
        var future = sample
        future[0] = 2
        #expect(throws: CRDTDecodingError.unsupportedVersion(2)) { try SyncMessage(decoding: future) }
    }

    @Test func bitFlipsAndByteChangesNeverCrash() {
        var rng = SplitMix64(seed: 2024)
        for sample in Self.sampleMessages() {
            for _ in 0..<1_500 {
                var bytes = sample
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    let i = Int.random(in: 0..<bytes.count, using: &rng)
                    if rng.chance(0.5) { bytes[i] ^= 1 << UInt8.random(in: 0..<8, using: &rng) } else { bytes[i] = UInt8.random(in: 0...255, using: &rng) }
                }
                Self.decodeAll(bytes)
            }
        }
    }

    @Test func randomBytesNeverCrash() {
        var rng = SplitMix64(seed: 99)
        for _ in 0..<3_000 {
            var bytes = (0..<Int.random(in: 0..<64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if bytes.count > 2, rng.chance(0.7) { bytes[0] = 1; bytes[1] = UInt8.random(in: 1...10, using: &rng) }
            Self.decodeAll(bytes)
        }
    }

    @Test func forgedLengthsAreBoundedByTheInput() {
        // A run claiming 2^40 tombstones, and a count claiming 2^60 entries.
        var writer = BinaryWriter()
        writer.write(byte: 1); writer.write(byte: WireFormat.Kind.sequence.rawValue)
        writer.write(count: 1); writer.write(ReplicaID(5))
        writer.write(count: 1)
        writer.write(varint: 0); writer.write(varint: 0); writer.write(signed: 1); writer.write(varint: 1 << 40)
        writer.write(byte: 0); writer.write(byte: 1)
        writer.write(count: 0)
        #expect(throws: CRDTDecodingError.self) { try RGASequence<Unicode.Scalar>(decoding: writer.bytes) }
        var counts = BinaryWriter()
        counts.write(byte: 1); counts.write(byte: WireFormat.Kind.stateVector.rawValue)
        counts.write(varint: 1 << 60)
        #expect(throws: CRDTDecodingError.truncated) { try StateVector(decoding: counts.bytes) }
    }

    @Test func updatesThatSkipOriginsDoNotCrashMerge() throws {
        // A forged delta whose insert hangs off an element nobody has.
        var source = RGASequence<Unicode.Scalar>()
        source.insert(contentsOf: "ab".unicodeScalars, at: 0, replica: ReplicaID(1), firstCounter: 0)
        source.insert(contentsOf: "c".unicodeScalars, at: 1, replica: ReplicaID(2), firstCounter: 0)
        let orphan = source.delta(since: StateVector([ReplicaID(1): 2]))
        var receiver = RGASequence<Unicode.Scalar>()
        receiver.merge(orphan)
        #expect(receiver.isEmpty)
    }

    /// Issue 11 audit: a synced views document whose node labels map two replicas to one node,
    /// each with a count near 2^63, overflowed the per-node sum in `servedByNode` and trapped
    /// (any peer can write such counts and labels into a views document it syncs).
    @Test func viewCountsOfOneNodeNearTwoToThe64DoNotTrap() throws {
        var a = ViewCounter(contentId: "c", replica: ReplicaID(1))
        a.recordViews(1 << 63, servedBy: "same-node", wallClock: 1)
        var b = ViewCounter(contentId: "c", replica: ReplicaID(2))
        b.recordViews(1 << 63, servedBy: "same-node", wallClock: 2)
        var merged = a.document
        merged.apply(b.document.update(since: StateVector()))
        let counter = ViewCounter(merged)
        #expect(counter.total == .max)
        #expect(counter.servedByNode == ["same-node": .max])
    }
}

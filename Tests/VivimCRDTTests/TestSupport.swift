import Foundation
@testable import VivimCRDT

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator so every
/// property and simulation test is reproducible from its seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    mutating func chance(_ probability: Double) -> Bool { Double.random(in: 0..<1, using: &self) < probability }
}

enum TestData {
    /// `../shared/data/editing-trace.json.gz` beside the repository root.
    static var editingTracePath: String {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent() // VivimCRDTTests
            .deletingLastPathComponent() // Tests
            .deletingLastPathComponent() // repository root
            .deletingLastPathComponent()
            .appendingPathComponent("shared/data/editing-trace.json.gz").path
    }
}

/// Extreme values for every varint field the wire property tests rewrite: 0, 1, 2^31, 2^32,
/// 2^35, 2^63-1, 2^64-1 (the issue-11 list). The same list as `extremeWireValues` in
/// Tests/VivimNetworkTests/TestSupport.swift: a test target cannot import another's files.
let extremeWireValues: [UInt64] = [0, 1, 1 << 31, 1 << 32, 1 << 35, UInt64(Int64.max), .max]

enum WireFields {
    /// The fields a decoder reads from `bytes` (each byte and varint, in order).
    static func trace(_ bytes: [UInt8], _ decode: (inout BinaryReader) throws -> Void) -> [BinaryReader.WireField] {
        var reader = BinaryReader(bytes)
        reader.fieldTrace = []
        try? decode(&reader)
        return reader.fieldTrace ?? []
    }

    /// `bytes` with `field` replaced by `value`, truncated to the field's width
    /// (a byte field takes the low 8 bits; a varint field the LEB128 of the value).
    static func replacing(_ field: BinaryReader.WireField, in bytes: [UInt8], with value: UInt64) -> [UInt8] {
        field.replaced(in: bytes, with: value)
    }

    /// Every variant of `bytes` with one field set to one extreme value.
    static func extremeVariants(of bytes: [UInt8], _ decode: (inout BinaryReader) throws -> Void) -> [[UInt8]] {
        var variants: [[UInt8]] = []
        for field in trace(bytes, decode) {
            for value in extremeWireValues { variants.append(replacing(field, in: bytes, with: value)) }
        }
        return variants
    }
}

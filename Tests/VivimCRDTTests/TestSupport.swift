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

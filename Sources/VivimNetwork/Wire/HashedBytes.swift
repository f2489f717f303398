/// A byte string with its hash computed once (FNV-1a, 64-bit), for use as a
/// dictionary key on hot paths (message ids, memo keys): `Hasher` then mixes
/// one word instead of every byte.
public struct HashedBytes: Hashable, Sendable {
    public let bytes: [UInt8]
    private let fnv: UInt64

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        fnv = h
    }

    public static func == (a: HashedBytes, b: HashedBytes) -> Bool { a.fnv == b.fnv && a.bytes == b.bytes }
    public func hash(into hasher: inout Hasher) { hasher.combine(fnv) }
}

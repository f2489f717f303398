/// Accumulates bytes arriving in arbitrary splits and lets a decoder consume
/// complete frames from the front; compacts lazily so consumption is amortised O(1).
public struct InputBuffer: Sendable {
    private var storage: [UInt8] = []
    private var start = 0

    public init() {}

    public var count: Int { storage.count - start }
    public var isEmpty: Bool { count == 0 }
    public var readable: ArraySlice<UInt8> { storage[start...] }

    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if start > 0 && start >= storage.count / 2 {
            storage.removeFirst(start)
            start = 0
        }
        storage.append(contentsOf: bytes)
    }

    public func peek(_ offset: Int) -> UInt8 { storage[start + offset] }

    /// Removes and returns the first `n` bytes; the caller has checked `count >= n`.
    public mutating func take(_ n: Int) -> [UInt8] {
        precondition(n <= count)
        defer { start += n }
        return Array(storage[start..<(start + n)])
    }

    public mutating func drop(_ n: Int) {
        precondition(n <= count)
        start += n
    }

    public mutating func takeAll() -> [UInt8] { take(count) }
}

/// Maps each operation counter of one replica to the handle of the sequence
/// item that holds it, in O(1). Paged, so memory follows the counters that
/// actually occur (a forged counter of 2⁶⁰ costs one page, not 2⁶⁰ slots).
struct OwnerIndex: Sendable {
    static let pageBits: UInt64 = 8
    static let pageSize = 1 << pageBits
    static let mask: UInt64 = (1 << pageBits) - 1

    private var pages: [UInt64: ContiguousArray<Int32>] = [:]
    // The page written last: typing touches the same page again and again.
    private var hotKey: UInt64 = .max
    private var hotPage: ContiguousArray<Int32> = []

    /// The handle owning `counter`, or -1.
    func handle(at counter: UInt64) -> Int32 {
        let key = counter >> Self.pageBits
        if key == hotKey { return hotPage[Int(counter & Self.mask)] }
        guard let page = pages[key] else { return -1 }
        return page[Int(counter & Self.mask)]
    }

    mutating func set(_ range: Range<UInt64>, to handle: Int32) {
        var counter = range.lowerBound
        while counter < range.upperBound {
            let key = counter >> Self.pageBits
            if key != hotKey { swapHot(to: key) }
            let pageEnd = (key + 1) << Self.pageBits
            let end = min(range.upperBound, pageEnd)
            let base = Int(counter & Self.mask)
            hotPage.withUnsafeMutableBufferPointer { page in
                for i in base..<base + Int(end - counter) { page[i] = handle }
            }
            counter = end
        }
    }

    private mutating func swapHot(to key: UInt64) {
        if hotKey != .max { pages[hotKey] = hotPage }
        hotPage = []
        hotPage = pages.removeValue(forKey: key) ?? ContiguousArray(repeating: -1, count: Self.pageSize)
        hotKey = key
    }

    /// The first counter in `range` that has an owner, or nil.
    func firstPresent(in range: Range<UInt64>) -> UInt64? {
        guard !range.isEmpty else { return nil }
        let firstKey = range.lowerBound >> Self.pageBits
        let lastKey = (range.upperBound - 1) >> Self.pageBits
        var keys = Array(pages.keys)
        if hotKey != .max { keys.append(hotKey) }
        let candidates: [UInt64]
        if lastKey - firstKey < UInt64(keys.count) {
            candidates = Array(firstKey...lastKey)
        } else {
            candidates = keys.filter { $0 >= firstKey && $0 <= lastKey }.sorted()
        }
        for key in candidates {
            let page: ContiguousArray<Int32>
            if key == hotKey { page = hotPage } else if let stored = pages[key] { page = stored } else { continue }
            let start = key == firstKey ? Int(range.lowerBound & Self.mask) : 0
            let end = key == lastKey ? Int((range.upperBound - 1) & Self.mask) + 1 : Self.pageSize
            for i in start..<end where page[i] >= 0 { return (key << Self.pageBits) + UInt64(i) }
        }
        return nil
    }
}

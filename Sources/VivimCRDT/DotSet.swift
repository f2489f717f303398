/// A set of dots stored as sorted, disjoint, non-adjacent ranges per replica.
/// Used for deletions (the "delete set" of Yjs; Nicolaescu et al. 2016): a run
/// of deleted characters costs one range, and union is a join, so deletions
/// can be shipped and merged as state.
public struct DotSet: Hashable, Sendable, BinaryCodable {
    public private(set) var ranges: [ReplicaID: [Range<UInt64>]]

    public init() { ranges = [:] }

    public var isEmpty: Bool { ranges.isEmpty }

    /// Dots in the set, saturating at `UInt64.max`.
    public var count: UInt64 {
        var total: UInt64 = 0
        for list in ranges.values {
            for range in list {
                let (sum, overflow) = total.addingReportingOverflow(range.upperBound - range.lowerBound)
                total = overflow ? .max : sum
            }
        }
        return total
    }

    public func contains(_ dot: Dot) -> Bool {
        guard let list = ranges[dot.replica] else { return false }
        let i = Self.firstIndex(in: list, endingAfter: dot.counter)
        return i < list.count && list[i].lowerBound <= dot.counter
    }

    public mutating func insert(_ dot: Dot) {
        insert(dot.counter..<dot.counter + 1, of: dot.replica)
    }

    /// Adds `range` of `replica`'s dots, coalescing with neighbours.
    public mutating func insert(_ range: Range<UInt64>, of replica: ReplicaID) {
        guard !range.isEmpty else { return }
        var list = ranges.removeValue(forKey: replica) ?? []
        // Fast path: appending at the end (the common case for a typist).
        if let last = list.last, last.upperBound <= range.lowerBound {
            if last.upperBound == range.lowerBound {
                list[list.count - 1] = last.lowerBound..<range.upperBound
            } else {
                list.append(range)
            }
            ranges[replica] = list
            return
        }
        // First range that ends at or after range.lowerBound can touch it.
        let lo = Self.firstIndex(in: list, endingAtOrAfter: range.lowerBound)
        var merged = range
        var hi = lo
        while hi < list.count, list[hi].lowerBound <= merged.upperBound {
            merged = min(merged.lowerBound, list[hi].lowerBound)..<max(merged.upperBound, list[hi].upperBound)
            hi += 1
        }
        list.replaceSubrange(lo..<hi, with: CollectionOfOne(merged))
        ranges[replica] = list
    }

    public mutating func formUnion(_ other: DotSet) {
        for (replica, list) in other.ranges {
            for range in list { insert(range, of: replica) }
        }
    }

    public func union(_ other: DotSet) -> DotSet {
        var copy = self
        copy.formUnion(other)
        return copy
    }

    /// The parts of `range` (of `replica`) that are in the set.
    public func intersection(_ range: Range<UInt64>, of replica: ReplicaID) -> [Range<UInt64>] {
        guard let list = ranges[replica] else { return [] }
        var result: [Range<UInt64>] = []
        var i = Self.firstIndex(in: list, endingAfter: range.lowerBound)
        while i < list.count, list[i].lowerBound < range.upperBound {
            result.append(max(list[i].lowerBound, range.lowerBound)..<min(list[i].upperBound, range.upperBound))
            i += 1
        }
        return result
    }

    /// Removes `range` of `replica`'s dots.
    public mutating func remove(_ range: Range<UInt64>, of replica: ReplicaID) {
        guard var list = ranges.removeValue(forKey: replica) else { return }
        var result: [Range<UInt64>] = []
        result.reserveCapacity(list.count + 1)
        for r in list {
            if r.upperBound <= range.lowerBound || r.lowerBound >= range.upperBound {
                result.append(r)
                continue
            }
            if r.lowerBound < range.lowerBound { result.append(r.lowerBound..<range.lowerBound) }
            if r.upperBound > range.upperBound { result.append(range.upperBound..<r.upperBound) }
        }
        list = result
        if !list.isEmpty { ranges[replica] = list }
    }

    /// Index of the first range whose upper bound is > `value`.
    static func firstIndex(in list: [Range<UInt64>], endingAfter value: UInt64) -> Int {
        var lo = 0, hi = list.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if list[mid].upperBound <= value { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Index of the first range whose upper bound is ≥ `value`.
    static func firstIndex(in list: [Range<UInt64>], endingAtOrAfter value: UInt64) -> Int {
        var lo = 0, hi = list.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if list[mid].upperBound < value { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Replicas sorted, ranges as (start delta from previous end, length).
    public func encode(to writer: inout BinaryWriter) {
        let sorted = ranges.sorted { $0.key < $1.key }
        writer.write(count: sorted.count)
        for (replica, list) in sorted {
            writer.write(replica)
            writer.write(count: list.count)
            var previousEnd: UInt64 = 0
            for range in list {
                writer.write(varint: range.lowerBound - previousEnd)
                writer.write(varint: range.upperBound - range.lowerBound)
                previousEnd = range.upperBound
            }
        }
    }

    public init(from reader: inout BinaryReader) throws {
        ranges = [:]
        let replicas = try reader.readCount(minimumElementSize: 2)
        var previousReplica: ReplicaID?
        for _ in 0..<replicas {
            let replica: ReplicaID = try reader.read()
            guard previousReplica.map({ $0 < replica }) ?? true else { throw CRDTDecodingError.malformed("delete set replicas unsorted") }
            previousReplica = replica
            let n = try reader.readCount(minimumElementSize: 2)
            guard n > 0 else { throw CRDTDecodingError.malformed("empty delete set entry") }
            var list: [Range<UInt64>] = []
            list.reserveCapacity(n)
            var previousEnd: UInt64 = 0
            for index in 0..<n {
                let gap = try reader.readVarint()
                let length = try reader.readVarint()
                let (start, o1) = previousEnd.addingReportingOverflow(gap)
                let (end, o2) = start.addingReportingOverflow(length)
                // Canonical form: non-empty ranges separated by a gap (except the first).
                guard !o1, !o2, length > 0, index == 0 || gap > 0, end <= StateVector.maxCount else {
                    throw CRDTDecodingError.malformed("delete set range")
                }
                list.append(start..<end)
                previousEnd = end
            }
            ranges[replica] = list
        }
    }
}

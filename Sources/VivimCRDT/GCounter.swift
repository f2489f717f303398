/// A grow-only counter (Shapiro et al. 2011, Spec. 6): one monotone count per
/// replica, merged by maximum; the value is the sum. Used for view counts
/// merged across nodes.
public struct GCounter: StateCRDT, CustomStringConvertible {
    public static var wireKind: UInt8 { WireFormat.Kind.gCounter.rawValue }

    struct Entry: Hashable, Sendable {
        var count: UInt64
        /// Counter of the replica's last increment, for `delta(since:)`.
        var lastOperation: UInt64
    }

    var entries: [ReplicaID: Entry] = [:]

    public init() {}

    /// The sum of all replicas' counts (saturating at `UInt64.max`).
    public var value: UInt64 {
        entries.values.reduce(0) { sum, entry in
            let (total, overflow) = sum.addingReportingOverflow(entry.count)
            return overflow ? .max : total
        }
    }

    /// The count contributed by one replica.
    public func count(of replica: ReplicaID) -> UInt64 { entries[replica]?.count ?? 0 }

    /// Adds `amount` on behalf of `dot.replica`, as its operation `dot.counter`.
    public mutating func increment(by amount: UInt64 = 1, at dot: Dot) {
        var entry = entries[dot.replica] ?? Entry(count: 0, lastOperation: 0)
        let (count, overflow) = entry.count.addingReportingOverflow(amount)
        entry.count = overflow ? .max : count
        entry.lastOperation = max(entry.lastOperation, dot.counter)
        entries[dot.replica] = entry
    }

    public mutating func merge(_ other: GCounter) {
        for (replica, theirs) in other.entries {
            guard let mine = entries[replica] else {
                entries[replica] = theirs
                continue
            }
            entries[replica] = Entry(count: max(mine.count, theirs.count),
                                     lastOperation: max(mine.lastOperation, theirs.lastOperation))
        }
    }

    public func delta(since vector: StateVector) -> GCounter {
        var result = GCounter()
        for (replica, entry) in entries where entry.lastOperation >= vector[replica] {
            result.entries[replica] = entry
        }
        return result
    }

    public var isInitialState: Bool { entries.isEmpty }

    public func encode(to writer: inout BinaryWriter) {
        let sorted = entries.sorted { $0.key < $1.key }
        writer.write(count: sorted.count)
        for (replica, entry) in sorted {
            writer.write(replica)
            writer.write(varint: entry.count)
            writer.write(varint: entry.lastOperation)
        }
    }

    public init(from reader: inout BinaryReader) throws {
        let n = try reader.readCount(minimumElementSize: 3)
        var previous: ReplicaID?
        for _ in 0..<n {
            let replica: ReplicaID = try reader.read()
            guard previous.map({ $0 < replica }) ?? true else { throw CRDTDecodingError.malformed("counter replicas unsorted") }
            previous = replica
            let entry = Entry(count: try reader.readVarint(), lastOperation: try reader.readVarint())
            guard entry.lastOperation < StateVector.maxCount else { throw CRDTDecodingError.malformed("counter operation beyond 2^62") }
            entries[replica] = entry
        }
    }

    public var description: String { "GCounter(\(value))" }
}

/// A counter that goes up and down (Shapiro et al. 2011, Spec. 7): two
/// G-Counters, one for increments and one for decrements.
public struct PNCounter: StateCRDT, CustomStringConvertible {
    public static var wireKind: UInt8 { WireFormat.Kind.pnCounter.rawValue }

    public private(set) var increments = GCounter()
    public private(set) var decrements = GCounter()

    public init() {}

    /// Increments minus decrements, clamped to the range of `Int64`.
    public var value: Int64 {
        let p = increments.value, n = decrements.value
        if p >= n { return Int64(clamping: p - n) }
        let magnitude = n - p
        return magnitude > UInt64(Int64.max) ? .min : -Int64(magnitude)
    }

    /// Adds `amount` (negative to subtract) as operation `dot`.
    public mutating func add(_ amount: Int64, at dot: Dot) {
        if amount >= 0 {
            increments.increment(by: UInt64(amount), at: dot)
        } else {
            decrements.increment(by: amount.magnitude, at: dot)
        }
    }

    public mutating func merge(_ other: PNCounter) {
        increments.merge(other.increments)
        decrements.merge(other.decrements)
    }

    public func delta(since vector: StateVector) -> PNCounter {
        var result = PNCounter()
        result.increments = increments.delta(since: vector)
        result.decrements = decrements.delta(since: vector)
        return result
    }

    public var isInitialState: Bool { increments.isInitialState && decrements.isInitialState }

    public func encode(to writer: inout BinaryWriter) {
        increments.encode(to: &writer)
        decrements.encode(to: &writer)
    }

    public init(from reader: inout BinaryReader) throws {
        increments = try reader.read()
        decrements = try reader.read()
    }

    public var description: String { "PNCounter(\(value))" }
}

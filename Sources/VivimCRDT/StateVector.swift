/// For each replica, how many of its operations have been integrated
/// (operation counters are dense, so `n` means counters `0..<n`).
///
/// Two replicas exchange state vectors to learn what the other lacks; an
/// update carries the vector it requires and the vector it provides, which is
/// how a receiver keeps its own vector exact even with lost or reordered
/// messages (delta-state causal delivery, Almeida et al. 2018, §5).
public struct StateVector: Hashable, Sendable, VersionedBinaryCodable, CustomStringConvertible {
    public static var wireKind: UInt8 { WireFormat.Kind.stateVector.rawValue }

    public private(set) var counts: [ReplicaID: UInt64]

    /// Largest count accepted from the wire, far from overflow when a replica adds to it.
    public static var maxCount: UInt64 { 1 << 62 }

    public init(_ counts: [ReplicaID: UInt64] = [:]) {
        self.counts = counts.filter { $0.value > 0 }
    }

    /// Number of operations of `replica` seen; 0 if none.
    public subscript(replica: ReplicaID) -> UInt64 {
        get { counts[replica] ?? 0 }
        set { counts[replica] = newValue == 0 ? nil : newValue }
    }

    /// True if the operation `dot` is covered by this vector.
    public func contains(_ dot: Dot) -> Bool { dot.counter < self[dot.replica] }

    /// True if every entry of `self` is ≤ the matching entry of `other`.
    public func isCovered(by other: StateVector) -> Bool {
        counts.allSatisfy { other[$0.key] >= $0.value }
    }

    /// Pointwise maximum (the join of the lattice).
    public mutating func formUnion(_ other: StateVector) {
        for (replica, count) in other.counts where count > self[replica] { counts[replica] = count }
    }

    public func union(_ other: StateVector) -> StateVector {
        var copy = self
        copy.formUnion(other)
        return copy
    }

    /// Pointwise minimum.
    public func intersection(_ other: StateVector) -> StateVector {
        var result = StateVector()
        for (replica, count) in counts { result[replica] = min(count, other[replica]) }
        return result
    }

    public var isEmpty: Bool { counts.isEmpty }

    public func encode(to writer: inout BinaryWriter) {
        let sorted = counts.sorted { $0.key < $1.key }
        writer.write(count: sorted.count)
        for (replica, count) in sorted {
            writer.write(replica)
            writer.write(varint: count)
        }
    }

    public init(from reader: inout BinaryReader) throws {
        let n = try reader.readCount(minimumElementSize: 2)
        var counts: [ReplicaID: UInt64] = [:]
        counts.reserveCapacity(n)
        var previous: ReplicaID?
        for _ in 0..<n {
            let replica: ReplicaID = try reader.read()
            let count = try reader.readVarint()
            guard previous.map({ $0 < replica }) ?? true, count > 0, count <= Self.maxCount else {
                throw CRDTDecodingError.malformed("state vector entries must be sorted, unique, non-zero and at most 2^62")
            }
            previous = replica
            counts[replica] = count
        }
        self.counts = counts
    }

    public var description: String {
        "{" + counts.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ", ") + "}"
    }
}

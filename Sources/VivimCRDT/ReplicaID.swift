/// Identifies one replica (one writer) of a document. Ties between
/// concurrent writes are broken by comparing replica ids, so every replica
/// must have a distinct id: draw it at random (64 bits) or derive it from a
/// peer id.
public struct ReplicaID: RawRepresentable, Hashable, Comparable, Sendable, BinaryCodable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    /// A fresh random id.
    public static func random<G: RandomNumberGenerator>(using generator: inout G) -> ReplicaID {
        ReplicaID(generator.next())
    }

    public static func random() -> ReplicaID {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    public static func < (lhs: ReplicaID, rhs: ReplicaID) -> Bool { lhs.rawValue < rhs.rawValue }

    public func encode(to writer: inout BinaryWriter) { writer.write(varint: rawValue) }
    public init(from reader: inout BinaryReader) throws { rawValue = try reader.readVarint() }

    public var description: String { String(rawValue, radix: 16) }
}

/// One operation's identity: the `counter`-th operation made by `replica`
/// (counters start at 0 and are dense per replica). Dots make every change
/// unique and let a state vector say which changes a replica has seen.
public struct Dot: Hashable, Comparable, Sendable, BinaryCodable, CustomStringConvertible {
    public var replica: ReplicaID
    public var counter: UInt64

    public init(replica: ReplicaID, counter: UInt64) {
        self.replica = replica
        self.counter = counter
    }

    public static func < (lhs: Dot, rhs: Dot) -> Bool {
        (lhs.replica, lhs.counter) < (rhs.replica, rhs.counter)
    }

    public func encode(to writer: inout BinaryWriter) {
        writer.write(replica)
        writer.write(varint: counter)
    }

    /// Counters from the wire are below `StateVector.maxCount` (2^62), as a
    /// state vector's are, so `counter + 1` and ranges built on it never overflow.
    public init(from reader: inout BinaryReader) throws {
        replica = try reader.read()
        counter = try reader.readVarint()
        guard counter < StateVector.maxCount else { throw CRDTDecodingError.malformed("operation counter \(counter) beyond 2^62") }
    }

    public var description: String { "\(replica):\(counter)" }
}

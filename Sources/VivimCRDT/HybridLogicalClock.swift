/// A hybrid logical clock timestamp (Kulkarni, Demirbas et al., "Logical
/// Physical Clocks", OPODIS 2014): the largest physical time seen, in
/// milliseconds, plus a logical counter that orders events within one
/// millisecond or while a peer's clock runs ahead.
public struct HLCTimestamp: Hashable, Comparable, Sendable, BinaryCodable, CustomStringConvertible {
    public var physical: UInt64
    public var logical: UInt64

    public init(physical: UInt64, logical: UInt64 = 0) {
        self.physical = physical
        self.logical = logical
    }

    public static let zero = HLCTimestamp(physical: 0)

    public static func < (lhs: HLCTimestamp, rhs: HLCTimestamp) -> Bool {
        (lhs.physical, lhs.logical) < (rhs.physical, rhs.logical)
    }

    public func encode(to writer: inout BinaryWriter) {
        writer.write(varint: physical)
        writer.write(varint: logical)
    }

    public init(from reader: inout BinaryReader) throws {
        physical = try reader.readVarint()
        logical = try reader.readVarint()
    }

    public var description: String { "\(physical).\(logical)" }
}

/// The HLC algorithm of Kulkarni et al. 2014, Fig. 5, as a value type. The
/// caller supplies physical time (Sans-IO: the clock never reads a clock), so
/// tests can run with simulated time.
public struct HybridLogicalClock: Hashable, Sendable {
    public private(set) var last: HLCTimestamp

    public init(last: HLCTimestamp = .zero) { self.last = last }

    /// Timestamp for a local or send event at physical time `now` (ms).
    public mutating func tick(now: UInt64) -> HLCTimestamp {
        if now > last.physical {
            last = HLCTimestamp(physical: now, logical: 0)
        } else {
            last.logical &+= 1
        }
        return last
    }

    /// Folds in a timestamp received from another replica, so the next local
    /// timestamp orders after it (receive event without a physical reading;
    /// the next `tick` takes the physical time into account).
    public mutating func observe(_ remote: HLCTimestamp) {
        if remote > last { last = remote }
    }
}

/// The total order used by last-writer-wins types: HLC timestamp first, then
/// the writer's replica id to break ties between concurrent writes.
public struct LWWStamp: Hashable, Comparable, Sendable, BinaryCodable, CustomStringConvertible {
    public var timestamp: HLCTimestamp
    public var replica: ReplicaID

    public init(timestamp: HLCTimestamp, replica: ReplicaID) {
        self.timestamp = timestamp
        self.replica = replica
    }

    public static func < (lhs: LWWStamp, rhs: LWWStamp) -> Bool {
        (lhs.timestamp, lhs.replica) < (rhs.timestamp, rhs.replica)
    }

    public func encode(to writer: inout BinaryWriter) {
        writer.write(timestamp)
        writer.write(replica)
    }

    public init(from reader: inout BinaryReader) throws {
        timestamp = try reader.read()
        replica = try reader.read()
    }

    public var description: String { "\(timestamp)@\(replica)" }
}

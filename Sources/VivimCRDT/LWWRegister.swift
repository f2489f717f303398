/// A last-writer-wins register (Shapiro et al. 2011, Spec. 8): each write
/// carries an HLC timestamp and the writer's replica id; merge keeps the write
/// with the greatest `(timestamp, replica)`.
public struct LWWRegister<Value: BinaryCodable & Hashable & Sendable>: StateCRDT {
    public static var wireKind: UInt8 { WireFormat.Kind.lwwRegister.rawValue }

    /// One write: the value, its LWW order, and its operation id.
    public struct Write: Hashable, Sendable, BinaryCodable {
        public var value: Value
        public var stamp: LWWStamp
        public var dot: Dot

        public init(value: Value, stamp: LWWStamp, dot: Dot) {
            self.value = value
            self.stamp = stamp
            self.dot = dot
        }

        /// Total order: stamp, then dot, then encoded value; only forged
        /// input can reach the last two, but they keep merge commutative even then.
        func wins(over other: Write) -> Bool {
            if stamp != other.stamp { return stamp > other.stamp }
            if dot != other.dot { return dot > other.dot }
            var a = BinaryWriter(), b = BinaryWriter()
            value.encode(to: &a)
            other.value.encode(to: &b)
            return a.bytes.lexicographicallyPrecedes(b.bytes) == false && a.bytes != b.bytes
        }

        public func encode(to writer: inout BinaryWriter) {
            writer.write(value)
            writer.write(stamp)
            writer.write(dot)
        }

        public init(from reader: inout BinaryReader) throws {
            value = try reader.read()
            stamp = try reader.read()
            dot = try reader.read()
        }
    }

    /// The winning write, or nil if never written.
    public private(set) var current: Write?

    public init() {}

    public var value: Value? { current?.value }

    /// Writes `value`; ignored if a later write is already known.
    public mutating func set(_ value: Value, stamp: LWWStamp, dot: Dot) {
        apply(Write(value: value, stamp: stamp, dot: dot))
    }

    mutating func apply(_ write: Write) {
        if let current, !write.wins(over: current) { return }
        current = write
    }

    public mutating func merge(_ other: LWWRegister) {
        if let write = other.current { apply(write) }
    }

    public func delta(since vector: StateVector) -> LWWRegister {
        guard let current, !vector.contains(current.dot) else { return LWWRegister() }
        var result = LWWRegister()
        result.current = current
        return result
    }

    public var isInitialState: Bool { current == nil }

    public func encode(to writer: inout BinaryWriter) {
        if let current {
            writer.write(byte: 1)
            writer.write(current)
        } else {
            writer.write(byte: 0)
        }
    }

    public init(from reader: inout BinaryReader) throws {
        switch try reader.readByte() {
        case 0: current = nil
        case 1: current = try reader.read(Write.self)
        case let tag: throw CRDTDecodingError.malformed("register tag \(tag)")
        }
    }
}

extension Optional: BinaryCodable where Wrapped: BinaryCodable {
    public func encode(to writer: inout BinaryWriter) {
        if let value = self {
            writer.write(byte: 1)
            writer.write(value)
        } else {
            writer.write(byte: 0)
        }
    }

    public init(from reader: inout BinaryReader) throws {
        switch try reader.readByte() {
        case 0: self = nil
        case 1: self = try reader.read(Wrapped.self)
        case let tag: throw CRDTDecodingError.malformed("optional tag \(tag)")
        }
    }
}

/// A map from keys to last-writer-wins registers (used for profiles). A
/// removal is a write of a tombstone (`nil`), so a later write of the key
/// wins over it and an earlier one loses, by the same `(timestamp, replica)` order.
public struct LWWMap<Key: BinaryCodable & Hashable & Comparable & Sendable, Value: BinaryCodable & Hashable & Sendable>: StateCRDT {
    public static var wireKind: UInt8 { WireFormat.Kind.lwwMap.rawValue }

    var registers: [Key: LWWRegister<Value?>] = [:]

    public init() {}

    public subscript(key: Key) -> Value? { registers[key]?.value ?? nil }

    /// Live keys and values (tombstones omitted).
    public var values: [Key: Value] {
        var result: [Key: Value] = [:]
        for (key, register) in registers {
            if case .some(.some(let value)) = register.value { result[key] = value }
        }
        return result
    }

    /// Number of live keys.
    public var count: Int { registers.values.reduce(0) { $0 + ($1.value.flatMap { $0 } == nil ? 0 : 1) } }

    public mutating func set(_ key: Key, to value: Value, stamp: LWWStamp, dot: Dot) {
        registers[key, default: LWWRegister()].set(value, stamp: stamp, dot: dot)
    }

    public mutating func remove(_ key: Key, stamp: LWWStamp, dot: Dot) {
        registers[key, default: LWWRegister()].set(nil, stamp: stamp, dot: dot)
    }

    public mutating func merge(_ other: LWWMap) {
        for (key, register) in other.registers {
            registers[key, default: LWWRegister()].merge(register)
        }
    }

    public func delta(since vector: StateVector) -> LWWMap {
        var result = LWWMap()
        for (key, register) in registers {
            let part = register.delta(since: vector)
            if !part.isInitialState { result.registers[key] = part }
        }
        return result
    }

    public var isInitialState: Bool { registers.isEmpty }

    public func encode(to writer: inout BinaryWriter) {
        let sorted = registers.sorted { $0.key < $1.key }
        writer.write(count: sorted.count)
        for (key, register) in sorted {
            writer.write(key)
            writer.write(register.current!)
        }
    }

    public init(from reader: inout BinaryReader) throws {
        let n = try reader.readCount(minimumElementSize: 4)
        var previous: Key?
        for _ in 0..<n {
            let key: Key = try reader.read()
            guard previous.map({ $0 < key }) ?? true else { throw CRDTDecodingError.malformed("map keys unsorted") }
            previous = key
            var register = LWWRegister<Value?>()
            register.apply(try reader.read())
            registers[key] = register
        }
    }
}

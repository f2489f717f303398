/// A small, bounded Protocol Buffers (proto2/proto3 wire format) codec for the
/// handful of libp2p messages VivimNetwork speaks. Written by hand so every
/// length is checked against an explicit limit; unknown fields are skipped.
/// Reference: protobuf.dev/programming-guides/encoding.
public enum ProtobufWireType: UInt8, Sendable {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case fixed32 = 5
}

/// Appends protobuf fields to a byte array.
public struct ProtobufWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// A writer whose output starts with `prefix` and has room for `capacity` bytes.
    public init(prefix: [UInt8], capacity: Int) {
        bytes.reserveCapacity(max(capacity, prefix.count))
        bytes.append(contentsOf: prefix)
    }

    private mutating func tag(_ field: UInt64, _ type: ProtobufWireType) {
        UVarint.encode(field << 3 | UInt64(type.rawValue), into: &bytes)
    }

    public mutating func writeVarint(field: UInt64, _ value: UInt64) {
        tag(field, .varint)
        UVarint.encode(value, into: &bytes)
    }

    /// int32/int64/enum: negative values are sign-extended to 10 bytes as protobuf requires.
    public mutating func writeInt(field: UInt64, _ value: Int64) {
        tag(field, .varint)
        var v = UInt64(bitPattern: value)
        while v >= 0x80 { bytes.append(UInt8(v & 0x7f) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }

    public mutating func writeBytes(field: UInt64, _ value: [UInt8]) {
        tag(field, .lengthDelimited)
        UVarint.encode(UInt64(value.count), into: &bytes)
        bytes.append(contentsOf: value)
    }

    public mutating func writeString(field: UInt64, _ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            tag(field, .lengthDelimited)
            UVarint.encode(UInt64(utf8.count), into: &bytes)
            bytes.append(contentsOf: utf8)
        }
    }
}

/// One decoded protobuf field value.
public enum ProtobufValue: Sendable {
    case varint(UInt64)
    case fixed64(UInt64)
    case fixed32(UInt32)
    case bytes([UInt8])

    public func uint64(field: UInt64) throws(WireError) -> UInt64 {
        guard case .varint(let v) = self else { throw .wrongWireType(field: field) }
        return v
    }

    public func int64(field: UInt64) throws(WireError) -> Int64 {
        Int64(bitPattern: try uint64(field: field))
    }

    public func int32(field: UInt64) throws(WireError) -> Int32 {
        Int32(truncatingIfNeeded: Int64(bitPattern: try uint64(field: field)))
    }

    public func data(field: UInt64) throws(WireError) -> [UInt8] {
        guard case .bytes(let v) = self else { throw .wrongWireType(field: field) }
        return v
    }

    public func string(field: UInt64) throws(WireError) -> String {
        let b = try data(field: field)
        guard let s = String(validating: b, as: UTF8.self) else { throw .invalidValue("field \(field) is not UTF-8") }
        return s
    }
}

/// Iterates over the fields of an encoded protobuf message with hard limits.
public struct ProtobufReader: Sendable {
    private var cursor: ByteCursor
    private var fieldsRead = 0
    /// Upper bound on the number of fields in one message (repeated entries count individually).
    public let maxFields: Int

    public init(_ bytes: [UInt8], maxFields: Int = 4096) {
        self.cursor = ByteCursor(bytes)
        self.maxFields = maxFields
    }

    /// The next field, or `nil` at the end of the message. Groups (wire types 3/4) are rejected.
    public mutating func next() throws(WireError) -> (field: UInt64, value: ProtobufValue)? {
        guard !cursor.isAtEnd else { return nil }
        fieldsRead += 1
        guard fieldsRead <= maxFields else { throw .tooManyElements(limit: maxFields) }
        let key = try cursor.readProtobufVarint()
        let field = key >> 3
        guard field > 0, field <= 0x1FFF_FFFF else { throw .invalidFieldNumber }
        guard let type = ProtobufWireType(rawValue: UInt8(key & 7)) else {
            throw .unsupportedWireType(UInt8(key & 7))
        }
        switch type {
        case .varint:
            return (field, .varint(try cursor.readProtobufVarint()))
        case .fixed64:
            let b = try cursor.readBytes(8)
            return (field, .fixed64(b.reversed().reduce(0) { $0 << 8 | UInt64($1) }))
        case .fixed32:
            let b = try cursor.readBytes(4)
            return (field, .fixed32(b.reversed().reduce(0) { $0 << 8 | UInt32($1) }))
        case .lengthDelimited:
            let length = try cursor.readProtobufVarint()
            guard length <= UInt64(cursor.remaining) else { throw .truncated }
            return (field, .bytes(try cursor.readBytes(Int(length))))
        }
    }
}

/// Framing of protobuf messages on a stream: an unsigned-varint length prefix
/// followed by the message (the "delimited" format used by identify and kad).
public enum VarintFrame {
    public static func encode(_ payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(payload.count + 3)
        UVarint.encode(UInt64(payload.count), into: &out)
        out.append(contentsOf: payload)
        return out
    }

    /// Extracts one frame from the start of `buffer` if complete; throws if its
    /// declared length exceeds `maxLength`.
    public static func decode(_ buffer: inout [UInt8], maxLength: Int) throws(WireError) -> [UInt8]? {
        guard let (length, prefix) = try UVarint.decodeIfComplete(buffer) else {
            if buffer.count >= UVarint.maxLength { throw .varintOverflow }
            return nil
        }
        guard length <= UInt64(maxLength) else { throw .lengthExceedsLimit(length: length, limit: maxLength) }
        let total = prefix + Int(length)
        guard buffer.count >= total else { return nil }
        let frame = Array(buffer[prefix..<total])
        buffer.removeFirst(total)
        return frame
    }
}

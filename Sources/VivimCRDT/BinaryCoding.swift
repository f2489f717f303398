/// Errors thrown by every decoder in this module. Decoders read untrusted
/// network bytes: they check every length against the bytes that remain and
/// throw instead of trapping or allocating without bound.
public enum CRDTDecodingError: Error, Equatable, Sendable {
    /// The input ended in the middle of a value.
    case truncated
    /// The leading version byte is not one this build understands.
    case unsupportedVersion(UInt8)
    /// The leading kind byte names another kind of payload.
    case unexpectedKind(expected: UInt8, found: UInt8)
    /// A varint was longer than 10 bytes or overflowed 64 bits.
    case invalidVarint
    /// A string was not valid UTF-8, a scalar was not a Unicode scalar.
    case invalidText
    /// Structurally wrong input: unknown tag, out-of-range index, unsorted keys.
    case malformed(String)
    /// Bytes were left over after a complete value.
    case trailingBytes(Int)
}

/// Types with a compact, canonical binary form (equal values ⇒ equal bytes).
public protocol BinaryCodable {
    func encode(to writer: inout BinaryWriter)
    init(from reader: inout BinaryReader) throws
}

/// Appends little-endian LEB128 varints, length-prefixed bytes and strings.
public struct BinaryWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(reservingCapacity capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func write(byte: UInt8) { bytes.append(byte) }

    /// Unsigned LEB128: 7 bits per byte, high bit set on all but the last.
    public mutating func write(varint value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Zig-zag signed varint (small magnitudes stay short).
    public mutating func write(signed value: Int64) {
        write(varint: UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    public mutating func write(count: Int) { write(varint: UInt64(count)) }

    public mutating func write(bytes other: some Collection<UInt8>) {
        write(count: other.count)
        bytes.append(contentsOf: other)
    }

    public mutating func write(string: String) { write(bytes: Array(string.utf8)) }

    /// IEEE 754 bit pattern, 8 bytes little-endian.
    public mutating func write(double: Double) {
        let bits = double.bitPattern
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
    }

    public mutating func write(_ value: some BinaryCodable) { value.encode(to: &self) }
}

/// Reads what `BinaryWriter` writes. Every read is bounds-checked and throws
/// `CRDTDecodingError`; counts are capped by the bytes left, so a forged
/// length can never make the decoder allocate more than the input justifies.
public struct BinaryReader {
    let bytes: [UInt8]
    var offset: Int
    /// When not nil, every byte and varint read is recorded here (the wire
    /// property tests find each field of an encoding this way).
    var fieldTrace: [WireField]?

    /// One field read from the input: where it sits and how wide its value is.
    struct WireField: Equatable, Sendable {
        var range: Range<Int>
        /// 8 for a single byte (tags, flags, versions), 64 for a varint.
        var bitWidth: Int

        /// `bytes` with this field replaced by `value`, cut to the field's width (a byte
        /// field takes the low 8 bits; a varint field the LEB128 of the value): what the
        /// extreme-value property tests feed the decoders.
        func replaced(in bytes: [UInt8], with value: UInt64) -> [UInt8] {
            var replacement: [UInt8]
            if bitWidth == 8 {
                replacement = [UInt8(truncatingIfNeeded: value)]
            } else {
                var writer = BinaryWriter()
                writer.write(varint: value)
                replacement = writer.bytes
            }
            return Array(bytes[..<range.lowerBound]) + replacement + Array(bytes[range.upperBound...])
        }
    }

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        offset = 0
    }

    public var remaining: Int { bytes.count - offset }
    public var isAtEnd: Bool { offset == bytes.count }

    public mutating func readByte() throws(CRDTDecodingError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated }
        fieldTrace?.append(WireField(range: offset..<offset + 1, bitWidth: 8))
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func readVarint() throws(CRDTDecodingError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        let start = offset
        while true {
            guard offset < bytes.count else { throw .truncated }
            let byte = bytes[offset]
            offset += 1
            if shift == 63, byte > 1 { throw .invalidVarint }
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 {
                fieldTrace?.append(WireField(range: start..<offset, bitWidth: 64))
                return result
            }
            shift += 7
            if shift > 63 { throw .invalidVarint }
        }
    }

    public mutating func readSigned() throws(CRDTDecodingError) -> Int64 {
        let raw = try readVarint()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// A varint that must fit in `0...limit`.
    public mutating func readInt(max limit: Int) throws(CRDTDecodingError) -> Int {
        let raw = try readVarint()
        guard limit >= 0, raw <= UInt64(limit) else { throw .malformed("value \(raw) exceeds \(limit)") }
        return Int(raw)
    }

    /// An element count; each element takes at least `minimumElementSize`
    /// bytes, so the count cannot exceed what the remaining input can hold.
    public mutating func readCount(minimumElementSize: Int = 1) throws(CRDTDecodingError) -> Int {
        let raw = try readVarint()
        guard raw <= UInt64(remaining / max(1, minimumElementSize)) else { throw .truncated }
        return Int(raw)
    }

    public mutating func readBytes() throws(CRDTDecodingError) -> [UInt8] {
        let count = try readCount()
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    public mutating func readString() throws(CRDTDecodingError) -> String {
        let count = try readCount()
        defer { offset += count }
        guard let string = String(validating: bytes[offset..<offset + count], as: UTF8.self) else { throw .invalidText }
        return string
    }

    public mutating func readDouble() throws(CRDTDecodingError) -> Double {
        guard remaining >= 8 else { throw .truncated }
        var bits: UInt64 = 0
        for i in 0..<8 { bits |= UInt64(bytes[offset + i]) << UInt64(8 * i) }
        offset += 8
        return Double(bitPattern: bits)
    }

    public mutating func read<T: BinaryCodable>(_: T.Type = T.self) throws -> T { try T(from: &self) }

    /// Throws unless the whole input was consumed.
    public func expectEnd() throws(CRDTDecodingError) {
        guard isAtEnd else { throw .trailingBytes(remaining) }
    }
}

/// Framing shared by every top-level payload: one version byte, one kind byte.
enum WireFormat {
    static let version: UInt8 = 1

    enum Kind: UInt8 {
        case gCounter = 1, pnCounter, lwwRegister, orSet, lwwMap, sequence, stateVector, update, document, syncMessage
    }
}

/// A CRDT with a versioned top-level binary form: `[version][kind][body]`.
public protocol VersionedBinaryCodable: BinaryCodable {
    /// The kind byte that follows the version byte.
    static var wireKind: UInt8 { get }
}

extension VersionedBinaryCodable {
    /// `[version byte][kind byte][canonical body]`.
    public func encoded() -> [UInt8] {
        var writer = BinaryWriter()
        writer.write(byte: WireFormat.version)
        writer.write(byte: Self.wireKind)
        encode(to: &writer)
        return writer.bytes
    }

    /// Decodes `encoded()` output; throws on any malformed, truncated or trailing input.
    public init(decoding bytes: [UInt8]) throws {
        var reader = BinaryReader(bytes)
        let version = try reader.readByte()
        guard version == WireFormat.version else { throw CRDTDecodingError.unsupportedVersion(version) }
        let kind = try reader.readByte()
        guard kind == Self.wireKind else { throw CRDTDecodingError.unexpectedKind(expected: Self.wireKind, found: kind) }
        try self.init(from: &reader)
        try reader.expectEnd()
    }
}

extension UInt64: BinaryCodable {
    public func encode(to writer: inout BinaryWriter) { writer.write(varint: self) }
    public init(from reader: inout BinaryReader) throws { self = try reader.readVarint() }
}

extension Int64: BinaryCodable {
    public func encode(to writer: inout BinaryWriter) { writer.write(signed: self) }
    public init(from reader: inout BinaryReader) throws { self = try reader.readSigned() }
}

extension String: BinaryCodable {
    public func encode(to writer: inout BinaryWriter) { writer.write(string: self) }
    public init(from reader: inout BinaryReader) throws { self = try reader.readString() }
}

extension Unicode.Scalar: BinaryCodable {
    public func encode(to writer: inout BinaryWriter) { writer.write(varint: UInt64(value)) }
    public init(from reader: inout BinaryReader) throws {
        let raw = try reader.readVarint()
        guard raw <= UInt64(UInt32.max), let scalar = Unicode.Scalar(UInt32(raw)) else { throw CRDTDecodingError.invalidText }
        self = scalar
    }
}

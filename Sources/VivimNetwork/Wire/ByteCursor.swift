/// A bounds-checked reader over a byte slice. Every read throws
/// ``WireError/truncated`` instead of trapping.
public struct ByteCursor: Sendable {
    public let bytes: [UInt8]
    public private(set) var index: Int
    public let endIndex: Int

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.index = 0
        self.endIndex = bytes.count
    }

    init(bytes: [UInt8], start: Int, end: Int) {
        self.bytes = bytes
        self.index = start
        self.endIndex = end
    }

    public var remaining: Int { endIndex - index }
    public var isAtEnd: Bool { index >= endIndex }

    public mutating func readByte() throws(WireError) -> UInt8 {
        guard index < endIndex else { throw .truncated }
        defer { index += 1 }
        return bytes[index]
    }

    public mutating func readBytes(_ count: Int) throws(WireError) -> [UInt8] {
        guard count >= 0, count <= remaining else { throw .truncated }
        defer { index += count }
        return Array(bytes[index..<(index + count)])
    }

    /// A cursor over the next `count` bytes, advancing past them.
    public mutating func subCursor(_ count: Int) throws(WireError) -> ByteCursor {
        guard count >= 0, count <= remaining else { throw .truncated }
        defer { index += count }
        return ByteCursor(bytes: bytes, start: index, end: index + count)
    }

    public mutating func skip(_ count: Int) throws(WireError) {
        guard count >= 0, count <= remaining else { throw .truncated }
        index += count
    }

    /// Reads an unsigned varint (multiformats/unsigned-varint, at most 9 bytes, minimal).
    public mutating func readUVarint() throws(WireError) -> UInt64 {
        let (value, length) = try UVarint.decode(bytes[index..<endIndex])
        index += length
        return value
    }

    /// Reads a protobuf varint (up to 10 bytes, non-minimal tolerated as protobuf allows).
    public mutating func readProtobufVarint() throws(WireError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try readByte()
            if shift == 63 && byte > 1 { throw .varintOverflow }
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw .varintOverflow }
        }
    }

    public mutating func readUInt16BE() throws(WireError) -> UInt16 {
        let b = try readBytes(2)
        return UInt16(b[0]) << 8 | UInt16(b[1])
    }

    public mutating func readUInt32BE() throws(WireError) -> UInt32 {
        let b = try readBytes(4)
        return b.reduce(0) { $0 << 8 | UInt32($1) }
    }
}

extension Array where Element == UInt8 {
    mutating func appendUInt16BE(_ v: UInt16) {
        append(UInt8(v >> 8)); append(UInt8(v & 0xff))
    }
    mutating func appendUInt32BE(_ v: UInt32) {
        append(UInt8(v >> 24)); append(UInt8((v >> 16) & 0xff)); append(UInt8((v >> 8) & 0xff)); append(UInt8(v & 0xff))
    }
    mutating func appendUVarint(_ v: UInt64) { UVarint.encode(v, into: &self) }
}

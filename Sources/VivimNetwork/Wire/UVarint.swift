/// Unsigned varint as specified by multiformats/unsigned-varint: LEB128, at
/// most 9 bytes (63 bits of payload), minimal encoding required.
public enum UVarint {
    /// The practical maximum length allowed by the unsigned-varint spec.
    public static let maxLength = 9

    public static func encode(_ value: UInt64, into out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    public static func encode(_ value: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        encode(value, into: &out)
        return out
    }

    /// Decodes a varint at the start of `bytes`; returns the value and the number of bytes used.
    public static func decode<C: Collection>(_ bytes: C) throws(WireError) -> (value: UInt64, length: Int)
    where C.Element == UInt8 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var length = 0
        for byte in bytes {
            length += 1
            if length > maxLength { throw .varintOverflow }
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 {
                if byte == 0 && length > 1 { throw .varintNotMinimal }
                return (result, length)
            }
            shift += 7
        }
        throw .truncated
    }

    /// Decodes a varint if a complete one is present; `nil` if more bytes are needed.
    public static func decodeIfComplete<C: Collection>(_ bytes: C) throws(WireError) -> (value: UInt64, length: Int)?
    where C.Element == UInt8 {
        do {
            return try decode(bytes)
        } catch .truncated {
            return nil
        }
    }
}

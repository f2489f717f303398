/// A JSON-like scalar stored in registers, sets, maps and lists of a document.
public enum CRDTValue: Hashable, Sendable, BinaryCodable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case bytes([UInt8])

    public func encode(to writer: inout BinaryWriter) {
        switch self {
        case .null: writer.write(byte: 0)
        case .bool(let b): writer.write(byte: b ? 2 : 1)
        case .int(let i): writer.write(byte: 3); writer.write(signed: i)
        case .double(let d): writer.write(byte: 4); writer.write(double: d)
        case .string(let s): writer.write(byte: 5); writer.write(string: s)
        case .bytes(let b): writer.write(byte: 6); writer.write(bytes: b)
        }
    }

    public init(from reader: inout BinaryReader) throws {
        switch try reader.readByte() {
        case 0: self = .null
        case 1: self = .bool(false)
        case 2: self = .bool(true)
        case 3: self = .int(try reader.readSigned())
        case 4: self = .double(try reader.readDouble())
        case 5: self = .string(try reader.readString())
        case 6: self = .bytes(try reader.readBytes())
        case let tag: throw CRDTDecodingError.malformed("unknown value tag \(tag)")
        }
    }

    public var description: String {
        switch self {
        case .null: "null"
        case .bool(let b): "\(b)"
        case .int(let i): "\(i)"
        case .double(let d): "\(d)"
        case .string(let s): "\"\(s)\""
        case .bytes(let b): "<\(b.count) bytes>"
        }
    }
}

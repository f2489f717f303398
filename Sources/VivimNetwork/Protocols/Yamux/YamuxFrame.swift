/// A yamux frame header (hashicorp/yamux spec.md): 12 bytes, big-endian —
/// version (0), type, flags, stream id, length. For data frames `length` is the
/// payload size; for window updates the window delta; for ping the opaque
/// value; for go-away the error code.
public struct YamuxHeader: Equatable, Sendable {
    public static let length = 12

    public enum FrameType: UInt8, Sendable { case data = 0, windowUpdate = 1, ping = 2, goAway = 3 }

    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        public static let syn = Flags(rawValue: 0x1)
        public static let ack = Flags(rawValue: 0x2)
        public static let fin = Flags(rawValue: 0x4)
        public static let rst = Flags(rawValue: 0x8)
    }

    public var type: FrameType
    public var flags: Flags
    public var streamID: UInt32
    public var length: UInt32

    public init(type: FrameType, flags: Flags = [], streamID: UInt32, length: UInt32) {
        self.type = type
        self.flags = flags
        self.streamID = streamID
        self.length = length
    }

    public var encoded: [UInt8] {
        var out: [UInt8] = [0, type.rawValue]
        out.reserveCapacity(Self.length)
        out.appendUInt16BE(flags.rawValue)
        out.appendUInt32BE(streamID)
        out.appendUInt32BE(length)
        return out
    }

    public init(decoding bytes: some Collection<UInt8>) throws(YamuxError) {
        guard bytes.count >= Self.length else { throw .protocolViolation("short header") }
        let b = Array(bytes.prefix(Self.length))
        guard b[0] == 0 else { throw .protocolViolation("unsupported version \(b[0])") }
        guard let type = FrameType(rawValue: b[1]) else { throw .protocolViolation("unknown frame type \(b[1])") }
        self.type = type
        self.flags = Flags(rawValue: UInt16(b[2]) << 8 | UInt16(b[3]))
        self.streamID = b[4..<8].reduce(0) { $0 << 8 | UInt32($1) }
        self.length = b[8..<12].reduce(0) { $0 << 8 | UInt32($1) }
    }
}

public enum YamuxError: Error, Equatable, Sendable {
    case protocolViolation(String)
    case unknownStream(UInt32)
    case streamClosed(UInt32)
    case tooManyStreams
    case sessionClosed
    case receiveWindowExceeded(UInt32)
    /// A local write would exceed the per-stream or per-session send buffer.
    case sendBufferFull(UInt32)
}

/// Go-away error codes (spec.md §"Go Away").
public enum YamuxGoAwayCode: UInt32, Sendable {
    case normal = 0, protocolError = 1, internalError = 2
}

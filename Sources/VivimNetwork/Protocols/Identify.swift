/// The identify message (`/ipfs/id/1.0.0`, libp2p/specs identify/README.md):
/// the responder writes one varint-length-prefixed `Identify` protobuf and closes the stream.
public struct IdentifyMessage: Sendable, Equatable {
    public static let protocolID = "/ipfs/id/1.0.0"
    public static let maxLength = 8 * 1024
    static let maxAddresses = 64
    static let maxProtocols = 256

    public var publicKey: PeerPublicKey?
    public var listenAddrs: [Multiaddr]
    public var protocols: [String]
    public var observedAddr: Multiaddr?
    public var protocolVersion: String?
    public var agentVersion: String?

    public init(publicKey: PeerPublicKey?, listenAddrs: [Multiaddr] = [], protocols: [String] = [],
                observedAddr: Multiaddr? = nil, protocolVersion: String? = "ipfs/0.1.0", agentVersion: String? = nil) {
        self.publicKey = publicKey
        self.listenAddrs = listenAddrs
        self.protocols = protocols
        self.observedAddr = observedAddr
        self.protocolVersion = protocolVersion
        self.agentVersion = agentVersion
    }

    public var encoded: [UInt8] {
        var w = ProtobufWriter()
        if let protocolVersion { w.writeString(field: 5, protocolVersion) }
        if let agentVersion { w.writeString(field: 6, agentVersion) }
        if let publicKey { w.writeBytes(field: 1, publicKey.protobufEncoded) }
        for a in listenAddrs { w.writeBytes(field: 2, a.bytes) }
        if let observedAddr { w.writeBytes(field: 4, observedAddr.bytes) }
        for p in protocols { w.writeString(field: 3, p) }
        return w.bytes
    }

    /// Decodes the protobuf body. Addresses with protocols this node does not
    /// understand (QUIC, WebSocket…) are skipped rather than rejected.
    public init(decoding bytes: [UInt8]) throws(WireError) {
        guard bytes.count <= Self.maxLength else { throw .lengthExceedsLimit(length: UInt64(bytes.count), limit: Self.maxLength) }
        var reader = ProtobufReader(bytes, maxFields: 512)
        self.init(publicKey: nil, protocolVersion: nil)
        while let (field, value) = try reader.next() {
            switch field {
            case 1: publicKey = try PeerPublicKey(protobuf: value.data(field: 1))
            case 2:
                guard listenAddrs.count < Self.maxAddresses else { throw .tooManyElements(limit: Self.maxAddresses) }
                if let a = try? Multiaddr(bytes: value.data(field: 2)) { listenAddrs.append(a) }
            case 3:
                guard protocols.count < Self.maxProtocols else { throw .tooManyElements(limit: Self.maxProtocols) }
                protocols.append(try value.string(field: 3))
            case 4: observedAddr = try? Multiaddr(bytes: value.data(field: 4))
            case 5: protocolVersion = try value.string(field: 5)
            case 6: agentVersion = try value.string(field: 6)
            default: continue
            }
        }
    }

    /// Decodes a whole identify stream: the varint-delimited form of the spec, or
    /// (as older implementations send) a bare protobuf filling the stream.
    public init(stream bytes: [UInt8]) throws(WireError) {
        // Compared as UInt64: a length near 2^64 must not overflow an Int sum (found by libFuzzer).
        // A zero length prefix alone is an identify with every field omitted (proto2/proto3 alike).
        if let (length, prefix) = try? UVarint.decode(bytes), length == UInt64(bytes.count - prefix) {
            try self.init(decoding: Array(bytes[prefix...]))
        } else {
            try self.init(decoding: bytes)
        }
    }
}

/// `/ipfs/ping/1.0.0` (libp2p/specs ping/ping.md): the dialer writes 32 random
/// bytes, the listener echoes them back; repeated on the same stream.
public enum PingProtocol {
    public static let protocolID = "/ipfs/ping/1.0.0"
    public static let payloadLength = 32
}

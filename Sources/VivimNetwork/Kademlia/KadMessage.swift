/// `/ipfs/kad/1.0.0` messages (libp2p/specs kad-dht/README.md §"RPC messages"),
/// sent as unsigned-varint-length-prefixed protobuf on a stream.
public struct KadMessage: Equatable, Sendable {
    public static let protocolID = "/ipfs/kad/1.0.0"
    /// Largest message accepted (go-libp2p uses 4 MiB; records here are small).
    public static let maxLength = 1 << 20
    static let maxPeers = 64

    public enum MessageType: Int64, Sendable {
        case putValue = 0, getValue = 1, addProvider = 2, getProviders = 3, findNode = 4, ping = 5
    }

    public enum ConnectionType: Int64, Sendable {
        case notConnected = 0, connected = 1, canConnect = 2, cannotConnect = 3
    }

    public struct Peer: Equatable, Sendable {
        public var id: PeerID
        public var addrs: [Multiaddr]
        public var connection: ConnectionType
        public init(id: PeerID, addrs: [Multiaddr] = [], connection: ConnectionType = .notConnected) {
            self.id = id
            self.addrs = addrs
            self.connection = connection
        }
    }

    public struct Record: Equatable, Sendable {
        public var key: [UInt8]
        public var value: [UInt8]
        public var timeReceived: String?
        public init(key: [UInt8], value: [UInt8], timeReceived: String? = nil) {
            self.key = key
            self.value = value
            self.timeReceived = timeReceived
        }
    }

    public var type: MessageType
    public var key: [UInt8]
    public var record: Record?
    public var closerPeers: [Peer]
    public var providerPeers: [Peer]

    public init(type: MessageType, key: [UInt8] = [], record: Record? = nil, closerPeers: [Peer] = [], providerPeers: [Peer] = []) {
        self.type = type
        self.key = key
        self.record = record
        self.closerPeers = closerPeers
        self.providerPeers = providerPeers
    }

    public var encoded: [UInt8] {
        var w = ProtobufWriter()
        w.writeInt(field: 1, type.rawValue)
        if !key.isEmpty { w.writeBytes(field: 2, key) }
        if let record {
            var r = ProtobufWriter()
            r.writeBytes(field: 1, record.key)
            r.writeBytes(field: 2, record.value)
            if let t = record.timeReceived { r.writeString(field: 5, t) }
            w.writeBytes(field: 3, r.bytes)
        }
        for p in closerPeers { w.writeBytes(field: 8, Self.encode(p)) }
        for p in providerPeers { w.writeBytes(field: 9, Self.encode(p)) }
        return w.bytes
    }

    static func encode(_ p: Peer) -> [UInt8] {
        var w = ProtobufWriter()
        w.writeBytes(field: 1, p.id.bytes)
        for a in p.addrs { w.writeBytes(field: 2, a.bytes) }
        if p.connection != .notConnected { w.writeInt(field: 3, p.connection.rawValue) }
        return w.bytes
    }

    /// Decodes every valid encoding (SPEC §8.1 "wire tolerance"): proto3 encoders omit
    /// fields holding their default, so a missing `type` is PUT_VALUE (0) and a missing
    /// key or record field is empty; unknown fields are skipped at every level
    /// (`clusterLevelRaw` = 10, `senderRecord` = 11, `Record.author`/`signature` = 3/4,
    /// `Peer.signedRecord` = 4, and any future ones).
    public init(decoding bytes: [UInt8]) throws(WireError) {
        guard bytes.count <= Self.maxLength else { throw .lengthExceedsLimit(length: UInt64(bytes.count), limit: Self.maxLength) }
        var reader = ProtobufReader(bytes, maxFields: 512)
        self.init(type: .putValue)
        while let (field, value) = try reader.next() {
            switch field {
            case 1:
                guard let t = MessageType(rawValue: try value.int64(field: 1)) else { throw .invalidValue("unknown kad message type") }
                self.type = t
            case 2: key = try value.data(field: 2)
            case 3: record = try Self.decodeRecord(value.data(field: 3))
            case 8, 9:
                let peer = try Self.decodePeer(value.data(field: field))
                if field == 8 {
                    guard closerPeers.count < Self.maxPeers else { throw .tooManyElements(limit: Self.maxPeers) }
                    closerPeers.append(peer)
                } else {
                    guard providerPeers.count < Self.maxPeers else { throw .tooManyElements(limit: Self.maxPeers) }
                    providerPeers.append(peer)
                }
            default: continue  // includes clusterLevelRaw (10, deprecated) and senderRecord (11)
            }
        }
    }

    static func decodeRecord(_ bytes: [UInt8]) throws(WireError) -> Record {
        var reader = ProtobufReader(bytes, maxFields: 16)
        var record = Record(key: [], value: [])
        while let (field, value) = try reader.next() {
            switch field {
            case 1: record.key = try value.data(field: 1)
            case 2: record.value = try value.data(field: 2)
            case 5: record.timeReceived = try value.string(field: 5)
            default: continue
            }
        }
        return record
    }

    static func decodePeer(_ bytes: [UInt8]) throws(WireError) -> Peer {
        var reader = ProtobufReader(bytes, maxFields: 64)
        var id: PeerID?
        var addrs: [Multiaddr] = []
        var connection = ConnectionType.notConnected
        while let (field, value) = try reader.next() {
            switch field {
            case 1: id = try PeerID(bytes: value.data(field: 1))
            case 2:
                // Addresses of transports this node does not speak are skipped, not fatal.
                if let a = try? Multiaddr(bytes: value.data(field: 2)) { addrs.append(a) }
            case 3: connection = ConnectionType(rawValue: try value.int64(field: 3)) ?? .notConnected
            default: continue
            }
        }
        guard let id else { throw .missingField("Peer.id") }
        return Peer(id: id, addrs: addrs, connection: connection)
    }
}

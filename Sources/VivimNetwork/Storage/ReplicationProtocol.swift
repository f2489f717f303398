/// `/vivim/replicate/1.0.0`: one varint-framed request, one varint-framed answer.
/// `Request { Kind kind = 1; bytes hash = 2; uint64 size = 3; uint64 expires_in = 4 }`,
/// `Response { bool ok = 1 }`. REPLICATE asks the receiver to fetch the bundle from
/// the sender (over `/vivim/content/1.0.0`) and keep it until it expires; the
/// answer comes after the bytes are stored. DELETE is honoured only from the
/// peer the replica was made for. HAVE asks whether the receiver still holds it.
public enum ReplicationProtocol {
    public static let protocolID = "/vivim/replicate/1.0.0"
    static let maxMessage = 256

    public enum Kind: UInt64, Sendable { case replicate = 0, delete = 1, have = 2 }

    public struct Request: Sendable, Equatable {
        public var kind: Kind
        public var hash: ContentHash
        public var size: UInt64
        /// Seconds until expiry, if the content expires.
        public var expiresIn: UInt64?
    }

    public static func encode(_ r: Request) -> [UInt8] {
        var w = ProtobufWriter()
        w.writeVarint(field: 1, r.kind.rawValue)
        w.writeBytes(field: 2, r.hash.key)
        w.writeVarint(field: 3, r.size)
        if let e = r.expiresIn { w.writeVarint(field: 4, e) }
        return VarintFrame.encode(w.bytes)
    }

    public static func decodeRequest(_ body: [UInt8]) throws(WireError) -> Request {
        var reader = ProtobufReader(body, maxFields: 8)
        var kind: Kind?, hash: ContentHash?, size: UInt64 = 0, expires: UInt64?
        while let (f, v) = try reader.next() {
            switch f {
            case 1:
                guard let k = Kind(rawValue: try v.uint64(field: 1)) else { throw .invalidValue("unknown replication request") }
                kind = k
            case 2: hash = try ContentHash(multihashBytes: v.data(field: 2))
            case 3: size = try v.uint64(field: 3)
            case 4: expires = try v.uint64(field: 4)
            default: continue
            }
        }
        guard let kind else { throw .missingField("Request.kind") }
        guard let hash else { throw .missingField("Request.hash") }
        return Request(kind: kind, hash: hash, size: size, expiresIn: expires)
    }

    public static func encode(ok: Bool) -> [UInt8] {
        var w = ProtobufWriter()
        w.writeVarint(field: 1, ok ? 1 : 0)
        return VarintFrame.encode(w.bytes)
    }

    public static func decodeResponse(_ body: [UInt8]) throws(WireError) -> Bool {
        var reader = ProtobufReader(body, maxFields: 4)
        var ok = false
        while let (f, v) = try reader.next() { if f == 1 { ok = try v.uint64(field: 1) != 0 } }
        return ok
    }
}

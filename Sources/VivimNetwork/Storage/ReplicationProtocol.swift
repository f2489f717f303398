/// `/vivim/replicate/1.0.0`: one varint-framed request, one varint-framed answer.
/// `Request { Kind kind = 1; bytes hash = 2; uint64 size = 3; uint64 expires_in = 4; bytes record = 5 }`,
/// `Response { bool ok = 1 }`. REPLICATE asks the receiver to fetch the bundle from
/// the sender (over `/vivim/content/1.0.0`) and keep it until it expires; the
/// answer comes after the bytes are stored. It carries `record`: a ``ContentRecord``
/// of the bundle (its content id — for a bundle published by hash alone, the hash's
/// base58 form —, its size, the sender as owner) signed by the sender, which the
/// receiver checks before anything else (``StorageManager/authorizes(_:hash:size:owner:unixNow:)``):
/// a peer can place replicas only of content it published. `expires_in` is clamped by
/// the receiver (``StorageManager/Configuration/maxReplicaLifetime``). DELETE is honoured
/// only from the peer the replica was made for (the authenticated connection says who).
/// HAVE asks whether the receiver still holds it.
public enum ReplicationProtocol {
    public static let protocolID = "/vivim/replicate/1.0.0"
    /// A request with its record: a content id (≤ 256 bytes), a content type, one provider
    /// entry without addresses; the record decoder bounds the rest.
    static let maxMessage = 8 * 1024

    public enum Kind: UInt64, Sendable { case replicate = 0, delete = 1, have = 2 }

    public struct Request: Sendable, Equatable {
        public var kind: Kind
        public var hash: ContentHash
        public var size: UInt64
        /// Seconds until expiry, if the content expires.
        public var expiresIn: UInt64?
        /// REPLICATE: the owner-signed record authorizing the replica.
        public var record: ContentRecord?

        public init(kind: Kind, hash: ContentHash, size: UInt64, expiresIn: UInt64?, record: ContentRecord? = nil) {
            self.kind = kind
            self.hash = hash
            self.size = size
            self.expiresIn = expiresIn
            self.record = record
        }
    }

    public static func encode(_ r: Request) -> [UInt8] {
        var w = ProtobufWriter()
        w.writeVarint(field: 1, r.kind.rawValue)
        w.writeBytes(field: 2, r.hash.key)
        w.writeVarint(field: 3, r.size)
        if let e = r.expiresIn { w.writeVarint(field: 4, e) }
        if let record = r.record { w.writeBytes(field: 5, record.encoded) }
        return VarintFrame.encode(w.bytes)
    }

    /// Decodes a request; `kind` may be omitted (proto3 default: REPLICATE), unknown fields are skipped.
    public static func decodeRequest(_ body: [UInt8]) throws(WireError) -> Request {
        var reader = ProtobufReader(body, maxFields: 8)
        var kind = Kind.replicate, hash: ContentHash?, size: UInt64 = 0, expires: UInt64?, record: ContentRecord?
        while let (f, v) = try reader.next() {
            switch f {
            case 1:
                guard let k = Kind(rawValue: try v.uint64(field: 1)) else { throw .invalidValue("unknown replication request") }
                kind = k
            case 2: hash = try ContentHash(multihashBytes: v.data(field: 2))
            case 3: size = try v.uint64(field: 3)
            case 4: expires = try v.uint64(field: 4)
            case 5: record = try ContentRecord(decoding: v.data(field: 5))
            default: continue
            }
        }
        guard let hash else { throw .missingField("Request.hash") }
        return Request(kind: kind, hash: hash, size: size, expiresIn: expires, record: record)
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

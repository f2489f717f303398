import Crypto

/// What a node holds and what it refuses, as kept on disk across restarts: one ``Item`` per
/// bundle and one ``Grave`` per tombstone, with wall-clock (Unix seconds) times, since the
/// ``StorageManager``'s monotonic instants mean nothing in another process.
/// ``StorageManager/snapshot(now:unixNow:)`` makes one, ``StorageManager/restore(_:files:now:unixNow:)``
/// reconciles one with the files found; this type only encodes and decodes (Sans-IO).
///
/// File form: `"VIVIMIDX" ‖ 0x01`, then records, each `uvarint(length) ‖ body ‖ SHA-256(body)[0..<4]`,
/// body = protobuf `Record { Item item = 1; Grave grave = 2 }`;
/// `Item { bytes hash = 1; uint32 origin = 2 (own 0, replica 1, fetched 2, cached 3); bytes owner = 3;
/// uint64 size = 4; uint32 replication_factor = 5; bool pinned = 6; uint64 expires_at = 7;
/// uint64 last_access = 8; repeated bytes replicas = 9; repeated bytes refused = 10;
/// string content_id = 11; string content_type = 12; uint64 created_at = 13; repeated string topics = 14 }`,
/// `Grave { bytes hash = 1; bytes owner = 2; uint32 reason = 3; uint64 at = 4;
/// repeated Retry unacknowledged = 5 {bytes peer = 1; uint32 attempts = 2}; repeated bytes abandoned = 6 }`.
/// Decoding stops at the first damaged record (torn write, bad checksum, bad field) and says so.
public struct StorageIndex: Sendable, Equatable {
    static let magic: [UInt8] = Array("VIVIMIDX".utf8) + [1]
    /// Largest record accepted (an item with its peer lists is far smaller).
    static let maxRecord = 256 * 1024
    /// Records read at most (bundles + tombstones).
    static let maxRecords = 2_000_000
    /// Peers kept per list (replicas, refused, retries).
    static let maxPeers = 256
    static let maxTopics = 32

    public struct Item: Sendable, Equatable {
        public var hash: ContentHash
        public var origin: StorageManager.Origin
        /// For fetched or cached copies: the owner they were fetched under (who may revoke them).
        public var owner: PeerID?
        public var size: Int
        public var replicationFactor: Int
        public var pinned: Bool
        public var expiresAt: UInt64?
        public var lastAccess: UInt64
        /// Own content: peers holding (or asked for) a replica; checked again after a restart.
        public var replicas: [PeerID]
        public var refused: [PeerID]
        public var contentID: String?
        public var contentType: String?
        public var createdAt: UInt64?
        public var topics: [String]
    }

    public struct Grave: Sendable, Equatable {
        public var hash: ContentHash
        public var owner: PeerID
        public var reason: StorageManager.DeletionReason
        public var at: UInt64
        /// Holders that have not acknowledged the deletion yet, with the attempts made.
        public var unacknowledged: [PeerID: Int]
        public var abandoned: [PeerID]
    }

    public var items: [Item] = []
    public var graves: [Grave] = []

    public init(items: [Item] = [], graves: [Grave] = []) {
        self.items = items
        self.graves = graves
    }

    // MARK: encoding

    public var encoded: [UInt8] {
        var out = Self.magic
        for item in items { Self.append(record: 1, Self.encode(item), to: &out) }
        for grave in graves { Self.append(record: 2, Self.encode(grave), to: &out) }
        return out
    }

    private static func append(record field: UInt64, _ payload: [UInt8], to out: inout [UInt8]) {
        var w = ProtobufWriter()
        w.writeBytes(field: field, payload)
        let body = w.bytes
        UVarint.encode(UInt64(body.count), into: &out)
        out += body
        out += checksum(body)
    }

    static func checksum(_ body: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: body).prefix(4)) }

    private static func encode(_ i: Item) -> [UInt8] {
        var w = ProtobufWriter()
        w.writeBytes(field: 1, i.hash.key)
        let (kind, owner): (UInt64, PeerID?) = switch i.origin {
        case .own: (0, nil)
        case .replica(let o): (1, o)
        case .fetched: (2, i.owner)
        case .cached: (3, i.owner)
        }
        w.writeVarint(field: 2, kind)
        if let owner { w.writeBytes(field: 3, owner.bytes) }
        w.writeVarint(field: 4, UInt64(max(0, i.size)))
        w.writeVarint(field: 5, UInt64(max(0, i.replicationFactor)))
        if i.pinned { w.writeVarint(field: 6, 1) }
        if let e = i.expiresAt { w.writeVarint(field: 7, e) }
        w.writeVarint(field: 8, i.lastAccess)
        for p in i.replicas.prefix(maxPeers) { w.writeBytes(field: 9, p.bytes) }
        for p in i.refused.prefix(maxPeers) { w.writeBytes(field: 10, p.bytes) }
        if let c = i.contentID { w.writeString(field: 11, c) }
        if let c = i.contentType { w.writeString(field: 12, c) }
        if let c = i.createdAt { w.writeVarint(field: 13, c) }
        for t in i.topics.prefix(maxTopics) { w.writeString(field: 14, t) }
        return w.bytes
    }

    private static func encode(_ g: Grave) -> [UInt8] {
        var w = ProtobufWriter()
        w.writeBytes(field: 1, g.hash.key)
        w.writeBytes(field: 2, g.owner.bytes)
        w.writeVarint(field: 3, reasonCode(g.reason))
        w.writeVarint(field: 4, g.at)
        for (p, attempts) in g.unacknowledged.sorted(by: { $0.key < $1.key }).prefix(maxPeers) {
            var r = ProtobufWriter()
            r.writeBytes(field: 1, p.bytes)
            r.writeVarint(field: 2, UInt64(max(0, attempts)))
            w.writeBytes(field: 5, r.bytes)
        }
        for p in g.abandoned.prefix(maxPeers) { w.writeBytes(field: 6, p.bytes) }
        return w.bytes
    }

    private static let reasons: [StorageManager.DeletionReason] = [.revoked, .expired, .evicted, .ownerRequest, .retention]
    private static func reasonCode(_ r: StorageManager.DeletionReason) -> UInt64 { UInt64(reasons.firstIndex(of: r) ?? 0) }

    // MARK: decoding

    /// The outcome of reading an index file.
    public struct Decoded: Sendable, Equatable {
        public var index: StorageIndex
        /// Records read intact.
        public var records: Int
        /// Whether the file was damaged (bad header, torn or corrupt record); the records
        /// before the damage are kept.
        public var damaged: Bool
    }

    /// Decodes `bytes`, keeping every record before the first damaged one; never throws.
    public static func decode(_ bytes: [UInt8]) -> Decoded {
        var out = Decoded(index: StorageIndex(), records: 0, damaged: false)
        guard bytes.starts(with: magic) else {
            out.damaged = !bytes.isEmpty
            return out
        }
        var offset = magic.count
        while offset < bytes.count {
            guard out.records < maxRecords,
                  let (length, prefix) = try? UVarint.decode(bytes[offset...]), length <= UInt64(maxRecord),
                  bytes.count - offset - prefix >= Int(length) + 4 else { out.damaged = true; break }
            let start = offset + prefix, end = start + Int(length)
            let body = Array(bytes[start..<end])
            guard Array(bytes[end..<(end + 4)]) == checksum(body), decodeRecord(body, into: &out.index) else { out.damaged = true; break }
            out.records += 1
            offset = end + 4
        }
        return out
    }

    private static func decodeRecord(_ body: [UInt8], into index: inout StorageIndex) -> Bool {
        var r = ProtobufReader(body, maxFields: 4)
        do {
            guard let (field, value) = try r.next() else { return false }
            switch field {
            case 1: index.items.append(try decodeItem(value.data(field: 1)))
            case 2: index.graves.append(try decodeGrave(value.data(field: 2)))
            default: break  // a record kind of a later version
            }
            return true
        } catch {
            return false
        }
    }

    private static func peers(_ list: inout [PeerID], _ v: ProtobufValue, field: UInt64) throws(WireError) {
        guard list.count < maxPeers else { throw .tooManyElements(limit: maxPeers) }
        list.append(try PeerID(bytes: v.data(field: field)))
    }

    private static func decodeItem(_ bytes: [UInt8]) throws(WireError) -> Item {
        var r = ProtobufReader(bytes, maxFields: 32 + 2 * maxPeers + maxTopics)
        var hash: ContentHash?, kind: UInt64 = 3, owner: PeerID?
        var item = Item(hash: ContentHash(of: []), origin: .cached, owner: nil, size: 0, replicationFactor: 0, pinned: false,
                        expiresAt: nil, lastAccess: 0, replicas: [], refused: [], contentID: nil, contentType: nil,
                        createdAt: nil, topics: [])
        while let (f, v) = try r.next() {
            switch f {
            case 1: hash = try ContentHash(multihashBytes: v.data(field: 1))
            case 2: kind = try v.uint64(field: 2)
            case 3: owner = try PeerID(bytes: v.data(field: 3))
            case 4: item.size = Int(min(try v.uint64(field: 4), UInt64(Int.max / 2)))
            case 5: item.replicationFactor = Int(min(try v.uint64(field: 5), 1024))
            case 6: item.pinned = try v.uint64(field: 6) != 0
            case 7: item.expiresAt = try v.uint64(field: 7)
            case 8: item.lastAccess = try v.uint64(field: 8)
            case 9: try peers(&item.replicas, v, field: 9)
            case 10: try peers(&item.refused, v, field: 10)
            case 11: item.contentID = try boundedString(v, field: 11)
            case 12: item.contentType = try boundedString(v, field: 12)
            case 13: item.createdAt = try v.uint64(field: 13)
            case 14:
                guard item.topics.count < maxTopics else { throw .tooManyElements(limit: maxTopics) }
                item.topics.append(try boundedString(v, field: 14))
            default: continue
            }
        }
        guard let hash else { throw .missingField("Item.hash") }
        item.hash = hash
        switch kind {
        case 0: item.origin = .own
        case 1:
            guard let owner else { throw .missingField("Item.owner") }
            item.origin = .replica(owner: owner)
        case 2: item.origin = .fetched; item.owner = owner
        case 3: item.origin = .cached; item.owner = owner
        default: throw .invalidValue("unknown origin")
        }
        return item
    }

    private static func boundedString(_ v: ProtobufValue, field: UInt64) throws(WireError) -> String {
        let s = try v.string(field: field)
        guard s.utf8.count <= 1024 else { throw .lengthExceedsLimit(length: UInt64(s.utf8.count), limit: 1024) }
        return s
    }

    private static func decodeGrave(_ bytes: [UInt8]) throws(WireError) -> Grave {
        var r = ProtobufReader(bytes, maxFields: 16 + 2 * maxPeers)
        var hash: ContentHash?, owner: PeerID?, reason = StorageManager.DeletionReason.revoked, at: UInt64 = 0
        var unacknowledged: [PeerID: Int] = [:], abandoned: [PeerID] = []
        while let (f, v) = try r.next() {
            switch f {
            case 1: hash = try ContentHash(multihashBytes: v.data(field: 1))
            case 2: owner = try PeerID(bytes: v.data(field: 2))
            case 3:
                let code = try v.uint64(field: 3)
                guard code < UInt64(reasons.count) else { throw .invalidValue("unknown deletion reason") }
                reason = reasons[Int(code)]
            case 4: at = try v.uint64(field: 4)
            case 5:
                guard unacknowledged.count < maxPeers else { throw .tooManyElements(limit: maxPeers) }
                var e = ProtobufReader(try v.data(field: 5), maxFields: 8)
                var peer: PeerID?, attempts = 1
                while let (ef, ev) = try e.next() {
                    if ef == 1 { peer = try PeerID(bytes: ev.data(field: 1)) }
                    if ef == 2 { attempts = Int(min(try ev.uint64(field: 2), 1 << 20)) }
                }
                guard let peer else { throw .missingField("Retry.peer") }
                unacknowledged[peer] = attempts
            case 6: try peers(&abandoned, v, field: 6)
            default: continue
            }
        }
        guard let hash else { throw .missingField("Grave.hash") }
        guard let owner else { throw .missingField("Grave.owner") }
        return Grave(hash: hash, owner: owner, reason: reason, at: at, unacknowledged: unacknowledged, abandoned: abandoned)
    }
}

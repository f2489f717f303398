/// VIVIM's content record in the DHT (SPEC §8.2): `{contentId, contentType,
/// providers, metadata: {size, createdAt, expiresAt, replicationFactor}}`, where
/// every provider entry is signed by the provider's own key. It is stored with
/// PUT_VALUE under ``key(for:)``; DHT nodes accept it only if every entry's
/// signature verifies, and merge the entries of records for the same content.
/// It sits next to the libp2p ADD_PROVIDER records (keyed by the bundle's
/// multihash, checked against the sender's peer id), which other libp2p
/// implementations understand.
///
/// Wire form (protobuf): `ContentRecord { string content_id = 1; string content_type = 2;
/// bytes bundle_hash = 3; Metadata metadata = 4; repeated Provider providers = 5;
/// bytes owner = 6; Status status = 7; uint64 revoked_at = 8 }` (fields 6–8 are written
/// only when set, so a record without them has the bytes and signatures of the first version),
/// `Metadata { uint64 size = 1; uint64 created_at = 2; uint64 expires_at = 3; uint32 replication_factor = 4 }`
/// (Unix seconds, 0 = none), `Provider { bytes peer_id = 1; repeated bytes addrs = 2;
/// uint64 signed_at = 3; bytes signature = 4 }`. A provider signs
/// `"vivim-provider-record:" ‖ ContentRecord{1, 2, 3, 4, 6, 7, 8} ‖ Provider{1, 2, 3}`.
///
/// A **revocation** is the same record with `status = REVOKED`, `revoked_at` set and signed by
/// its `owner`: every node that fetched the bundle under that owner can verify it
/// (``isRevocation(by:)``) and drop its copy.
public struct ContentRecord: Equatable, Sendable {
    public static let keyPrefix = Array("/vivim/record/".utf8)
    static let signaturePrefix = Array("vivim-provider-record:".utf8)
    public static let maxProviders = 20
    static let maxAddrsPerProvider = 8
    static let maxContentID = 256

    public struct Metadata: Equatable, Sendable {
        public var size: UInt64
        /// Unix seconds.
        public var createdAt: UInt64
        public var expiresAt: UInt64?
        public var replicationFactor: UInt32
        public init(size: UInt64, createdAt: UInt64, expiresAt: UInt64? = nil, replicationFactor: UInt32) {
            self.size = size
            self.createdAt = createdAt
            self.expiresAt = expiresAt
            self.replicationFactor = replicationFactor
        }
    }

    public struct Provider: Equatable, Sendable {
        public var peer: PeerID
        public var addrs: [Multiaddr]
        /// Unix seconds; a newer signature of the same provider replaces an older one.
        public var signedAt: UInt64
        public var signature: [UInt8]
    }

    /// Whether the owner still offers the content (`ACTIVE = 0`) or withdrew it (`REVOKED = 1`).
    public enum Status: UInt64, Sendable { case active = 0, revoked = 1 }

    public var contentID: String
    public var contentType: String
    /// The multihash of the bundle bytes, fetched and verified over `/vivim/content/1.0.0`.
    public var bundleHash: ContentHash
    public var metadata: Metadata
    public var providers: [Provider]
    /// The peer that published the content; only its signature makes a revocation valid.
    /// Absent in records of the first version (then the publisher is the first provider).
    public var owner: PeerID?
    public var status: Status
    /// Unix seconds of the revocation.
    public var revokedAt: UInt64?

    public init(contentID: String, contentType: String, bundleHash: ContentHash, metadata: Metadata, providers: [Provider] = [],
                owner: PeerID? = nil, status: Status = .active, revokedAt: UInt64? = nil) {
        self.contentID = contentID
        self.contentType = contentType
        self.bundleHash = bundleHash
        self.metadata = metadata
        self.providers = providers
        self.owner = owner
        self.status = status
        self.revokedAt = revokedAt
    }

    /// The peer that published the content: ``owner``, or for records of the first version the
    /// first provider (only the publisher signed those).
    public var publisher: PeerID? { owner ?? providers.first?.peer }

    /// This record turned into its revocation (unsigned: call ``sign(as:addrs:at:)`` as the owner).
    public func revoked(at unixSeconds: UInt64) -> ContentRecord {
        ContentRecord(contentID: contentID, contentType: contentType, bundleHash: bundleHash, metadata: metadata,
                      owner: owner, status: .revoked, revokedAt: unixSeconds)
    }

    /// Whether this is a revocation of the content signed by `owner` — the check a holder of a
    /// copy fetched under `owner` makes before deleting it. A record signed by anyone else, or
    /// naming another owner, is not.
    public func isRevocation(by owner: PeerID) -> Bool {
        status == .revoked && self.owner == owner && providers.contains { $0.peer == owner && verifies($0) }
    }

    /// Whether the owner the record names signed it (records of the first version, which
    /// name no owner, count as signed by none).
    public var isSignedByItsOwner: Bool {
        guard let owner else { return false }
        return providers.contains { $0.peer == owner && verifies($0) }
    }

    /// The DHT key of the record of `contentID`.
    public static func key(for contentID: String) -> [UInt8] { keyPrefix + Array(contentID.utf8) }

    public var key: [UInt8] { Self.key(for: contentID) }

    // MARK: signing

    private var body: [UInt8] {
        var w = ProtobufWriter()
        w.writeString(field: 1, contentID)
        w.writeString(field: 2, contentType)
        w.writeBytes(field: 3, bundleHash.key)
        var m = ProtobufWriter()
        m.writeVarint(field: 1, metadata.size)
        m.writeVarint(field: 2, metadata.createdAt)
        m.writeVarint(field: 3, metadata.expiresAt ?? 0)
        m.writeVarint(field: 4, UInt64(metadata.replicationFactor))
        w.writeBytes(field: 4, m.bytes)
        if let owner { w.writeBytes(field: 6, owner.bytes) }
        if status != .active { w.writeVarint(field: 7, status.rawValue) }
        if let revokedAt { w.writeVarint(field: 8, revokedAt) }
        return w.bytes
    }

    private static func providerBody(peer: PeerID, addrs: [Multiaddr], signedAt: UInt64) -> [UInt8] {
        var w = ProtobufWriter()
        w.writeBytes(field: 1, peer.bytes)
        for a in addrs { w.writeBytes(field: 2, a.bytes) }
        w.writeVarint(field: 3, signedAt)
        return w.bytes
    }

    /// Adds (or renews) `identity` as a provider, signed with its key.
    public mutating func sign(as identity: PeerKeyPair, addrs: [Multiaddr], at unixSeconds: UInt64) throws {
        let addrs = Array(addrs.map(\.withoutPeerID).prefix(Self.maxAddrsPerProvider))
        let message = Self.signaturePrefix + body + Self.providerBody(peer: identity.peerID, addrs: addrs, signedAt: unixSeconds)
        let entry = Provider(peer: identity.peerID, addrs: addrs, signedAt: unixSeconds, signature: try identity.sign(message))
        providers.removeAll { $0.peer == entry.peer }
        providers.insert(entry, at: 0)
        providers = Array(providers.prefix(Self.maxProviders))
    }

    /// Whether `provider`'s signature over this record verifies with the key in its peer id.
    public func verifies(_ provider: Provider) -> Bool {
        guard let key = provider.peer.inlinePublicKey else { return false }
        let message = Self.signaturePrefix + body + Self.providerBody(peer: provider.peer, addrs: provider.addrs, signedAt: provider.signedAt)
        return key.verify(signature: provider.signature, for: message)
    }

    /// At least one provider, all signatures valid, not expired at `unixNow`.
    public func isValid(unixNow: UInt64? = nil) -> Bool {
        guard !providers.isEmpty, providers.count <= Self.maxProviders, providers.allSatisfy(verifies) else { return false }
        if let now = unixNow, let expiry = metadata.expiresAt, expiry <= now { return false }
        return true
    }

    /// The union of two valid records of the same content: newest entry per provider,
    /// most recent first, at most ``maxProviders``. Records that disagree on the signed
    /// fields keep the newer one (by `createdAt`), except that a revocation by the same
    /// owner always replaces the active record (and is never replaced by it).
    public static func merge(_ a: ContentRecord, _ b: ContentRecord) -> ContentRecord {
        guard a.body == b.body else {
            // First writer wins between owners: a storing node keeps the owner it has, so a
            // record naming another owner (newer or not) cannot shadow or "revoke" it.
            if let stored = a.owner, let claimed = b.owner, stored != claimed { return a }
            // Same owner: a record the owner signed beats one only others signed, so an
            // impostor naming the owner can neither revoke nor replace it (issue 11).
            if a.isSignedByItsOwner != b.isSignedByItsOwner { return a.isSignedByItsOwner ? a : b }
            if let owner = a.owner, owner == b.owner, a.status != b.status { return a.status == .revoked ? a : b }
            return b.metadata.createdAt > a.metadata.createdAt ? b : a
        }
        var byPeer: [PeerID: Provider] = [:]
        for p in a.providers + b.providers where (byPeer[p.peer]?.signedAt ?? 0) <= p.signedAt { byPeer[p.peer] = p }
        var merged = a
        merged.providers = Array(byPeer.values.sorted { ($0.signedAt, $1.peer) > ($1.signedAt, $0.peer) }.prefix(maxProviders))
        return merged
    }

    // MARK: wire form

    public var encoded: [UInt8] {
        var w = ProtobufWriter()
        var bytes = body
        for p in providers {
            var e = ProtobufWriter()
            e.writeBytes(field: 1, p.peer.bytes)
            for a in p.addrs { e.writeBytes(field: 2, a.bytes) }
            e.writeVarint(field: 3, p.signedAt)
            e.writeBytes(field: 4, p.signature)
            w.writeBytes(field: 5, e.bytes)
        }
        bytes += w.bytes
        return bytes
    }

    public init(decoding bytes: [UInt8]) throws(WireError) {
        var r = ProtobufReader(bytes, maxFields: 16 + Self.maxProviders)
        var contentID: String?, contentType = "", hash: ContentHash?, metadata: Metadata?, providers: [Provider] = []
        var owner: PeerID?, status = Status.active, revokedAt: UInt64?
        while let (f, v) = try r.next() {
            switch f {
            case 1:
                let s = try v.string(field: 1)
                guard s.utf8.count <= Self.maxContentID else { throw .lengthExceedsLimit(length: UInt64(s.utf8.count), limit: Self.maxContentID) }
                contentID = s
            case 2: contentType = try v.string(field: 2)
            case 3: hash = try ContentHash(multihashBytes: v.data(field: 3))
            case 4: metadata = try Self.decodeMetadata(v.data(field: 4))
            case 5:
                guard providers.count < Self.maxProviders else { throw .tooManyElements(limit: Self.maxProviders) }
                providers.append(try Self.decodeProvider(v.data(field: 5)))
            case 6: owner = try PeerID(bytes: v.data(field: 6))
            case 7:
                guard let s = Status(rawValue: try v.uint64(field: 7)) else { throw .invalidValue("unknown content record status") }
                status = s
            case 8: revokedAt = try v.uint64(field: 8)
            default: continue
            }
        }
        guard let contentID else { throw .missingField("ContentRecord.content_id") }
        guard let hash else { throw .missingField("ContentRecord.bundle_hash") }
        guard let metadata else { throw .missingField("ContentRecord.metadata") }
        self.init(contentID: contentID, contentType: contentType, bundleHash: hash, metadata: metadata, providers: providers,
                  owner: owner, status: status, revokedAt: revokedAt)
    }

    private static func decodeMetadata(_ bytes: [UInt8]) throws(WireError) -> Metadata {
        var r = ProtobufReader(bytes, maxFields: 16)
        var m = Metadata(size: 0, createdAt: 0, replicationFactor: 0)
        while let (f, v) = try r.next() {
            switch f {
            case 1: m.size = try v.uint64(field: 1)
            case 2: m.createdAt = try v.uint64(field: 2)
            case 3: let e = try v.uint64(field: 3); m.expiresAt = e == 0 ? nil : e
            case 4: m.replicationFactor = UInt32(truncatingIfNeeded: try v.uint64(field: 4))
            default: continue
            }
        }
        return m
    }

    private static func decodeProvider(_ bytes: [UInt8]) throws(WireError) -> Provider {
        var r = ProtobufReader(bytes, maxFields: 8 + maxAddrsPerProvider)
        var peer: PeerID?, addrs: [Multiaddr] = [], signedAt: UInt64 = 0, signature: [UInt8] = []
        while let (f, v) = try r.next() {
            switch f {
            case 1: peer = try PeerID(bytes: v.data(field: 1))
            case 2:
                guard addrs.count < maxAddrsPerProvider else { throw .tooManyElements(limit: maxAddrsPerProvider) }
                addrs.append(try Multiaddr(bytes: v.data(field: 2)))
            case 3: signedAt = try v.uint64(field: 3)
            case 4: signature = try v.data(field: 4)
            default: continue
            }
        }
        guard let peer else { throw .missingField("Provider.peer_id") }
        return Provider(peer: peer, addrs: addrs, signedAt: signedAt, signature: signature)
    }
}

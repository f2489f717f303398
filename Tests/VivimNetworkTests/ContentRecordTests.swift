import Testing
@testable import VivimNetwork

@Suite struct ContentRecordTests {
    static let addr = try! Multiaddr("/ip4/127.0.0.1/tcp/4001")

    static func record(_ id: String = "c0ffee") -> ContentRecord {
        ContentRecord(contentID: id, contentType: "application/vivim-bundle+json", bundleHash: ContentHash(of: Array(id.utf8)),
                      metadata: .init(size: 1234, createdAt: 1_700_000_000, expiresAt: 1_800_000_000, replicationFactor: 3))
    }

    @Test func providerEntriesAreSignedByTheProviderAndRoundTrip() throws {
        let a = PeerKeyPair(), b = PeerKeyPair()
        var r = Self.record()
        try r.sign(as: a, addrs: [Self.addr], at: 10)
        try r.sign(as: b, addrs: [], at: 11)
        let decoded = try ContentRecord(decoding: r.encoded)
        #expect(decoded == r)
        #expect(decoded.isValid(unixNow: 1_750_000_000))
        #expect(!decoded.isValid(unixNow: 1_800_000_000))  // expired
        #expect(Set(decoded.providers.map(\.peer)) == [a.peerID, b.peerID])
    }

    @Test func aForgedOrAlteredEntryDoesNotVerify() throws {
        let a = PeerKeyPair(), mallory = PeerKeyPair()
        var r = Self.record()
        try r.sign(as: a, addrs: [Self.addr], at: 10)
        var altered = r
        altered.metadata.replicationFactor = 1  // the signature covers the metadata
        #expect(!altered.isValid())
        var claimed = r
        claimed.providers[0].peer = mallory.peerID  // someone else's signature under mallory's id
        #expect(!claimed.isValid())
    }

    @Test func dhtNodesStoreOnlyValidRecordsAndMergeProviders() throws {
        var node = KademliaNode(localPeer: PeerKeyPair().peerID)
        let a = PeerKeyPair(), b = PeerKeyPair()
        var first = Self.record(), second = Self.record()
        try first.sign(as: a, addrs: [Self.addr], at: 10)
        try second.sign(as: b, addrs: [Self.addr], at: 12)
        func put(_ value: [UInt8], key: [UInt8] = Self.record().key) -> KadMessage? {
            node.handleRequest(from: a.peerID, KadMessage(type: .putValue, key: key, record: .init(key: key, value: value)), now: .zero)
        }
        #expect(put(Self.record().encoded) == nil)  // no provider: rejected
        var forged = first
        forged.providers[0].signature[0] ^= 1
        #expect(put(forged.encoded) == nil)
        #expect(put(first.encoded, key: ContentRecord.key(for: "other")) == nil)  // stored under another id's key
        #expect(put(first.encoded) != nil)
        #expect(put(second.encoded) != nil)
        let stored = try ContentRecord(decoding: try #require(node.localRecord(for: first.key)).value)
        #expect(Set(stored.providers.map(\.peer)) == [a.peerID, b.peerID])
        #expect(stored.isValid())
    }

    @Test func decoderIsBounded() {
        var rng = TestRNG(seed: 5)
        var r = Self.record()
        try? r.sign(as: PeerKeyPair(), addrs: [Self.addr], at: 1)
        let bytes = r.encoded
        for _ in 0..<2000 {
            var m = bytes
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                m[Int.random(in: 0..<m.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            _ = try? ContentRecord(decoding: m)  // never traps
            _ = try? ContentRecord(decoding: Array(m.prefix(Int.random(in: 0..<m.count, using: &rng))))
        }
    }
}

@Suite struct ContentRecordRevocationTests {
    static func record(owner: PeerID?) -> ContentRecord {
        ContentRecord(contentID: "c1", contentType: "application/vivim-bundle+json", bundleHash: ContentHash(of: [1, 2, 3]),
                      metadata: .init(size: 3, createdAt: 1_700_000_000, replicationFactor: 2), owner: owner)
    }

    @Test func aRevocationSignedByTheOwnerVerifiesAndRoundTrips() throws {
        let owner = PeerKeyPair()
        var revoked = Self.record(owner: owner.peerID).revoked(at: 1_700_000_100)
        try revoked.sign(as: owner, addrs: [], at: 1_700_000_100)
        let decoded = try ContentRecord(decoding: revoked.encoded)
        #expect(decoded == revoked)
        #expect(decoded.status == .revoked && decoded.revokedAt == 1_700_000_100)
        #expect(decoded.isValid() && decoded.isRevocation(by: owner.peerID))
    }

    @Test func aForgedRevocationIsNotTheOwners() throws {
        let owner = PeerKeyPair(), mallory = PeerKeyPair()
        // Signed by mallory, naming mallory as owner: valid as a record, but not the owner's revocation.
        var own = Self.record(owner: mallory.peerID).revoked(at: 1)
        try own.sign(as: mallory, addrs: [], at: 1)
        #expect(own.isValid() && !own.isRevocation(by: owner.peerID))
        // Naming the owner but signed by mallory: the owner has no entry, and mallory's signature is its own.
        var claimed = Self.record(owner: owner.peerID).revoked(at: 1)
        try claimed.sign(as: mallory, addrs: [], at: 1)
        #expect(!claimed.isRevocation(by: owner.peerID))
        // The owner's entry copied under a revoked body does not verify.
        var active = Self.record(owner: owner.peerID)
        try active.sign(as: owner, addrs: [], at: 1)
        var replayed = active.revoked(at: 1)
        replayed.providers = active.providers
        #expect(!replayed.isRevocation(by: owner.peerID) && !replayed.isValid())
    }

    @Test func recordsOfTheFirstVersionDecodeAndVerifyUnchanged() throws {
        let a = PeerKeyPair()
        var legacy = Self.record(owner: nil)
        try legacy.sign(as: a, addrs: [], at: 10)
        // The first version wrote fields 1–5 only; a record without owner or status writes the same bytes.
        var w = ProtobufWriter()
        w.writeString(field: 1, legacy.contentID)
        w.writeString(field: 2, legacy.contentType)
        w.writeBytes(field: 3, legacy.bundleHash.key)
        var m = ProtobufWriter()
        m.writeVarint(field: 1, 3)
        m.writeVarint(field: 2, 1_700_000_000)
        m.writeVarint(field: 3, 0)
        m.writeVarint(field: 4, 2)
        w.writeBytes(field: 4, m.bytes)
        #expect(legacy.encoded.starts(with: w.bytes))
        let decoded = try ContentRecord(decoding: legacy.encoded)
        #expect(decoded.status == .active && decoded.owner == nil && decoded.isValid())
        #expect(decoded.publisher == a.peerID)
    }

    @Test func theDHTKeepsTheOwnersRevocationOverItsActiveRecord() throws {
        let owner = PeerKeyPair(), mallory = PeerKeyPair()
        var active = Self.record(owner: owner.peerID)
        try active.sign(as: owner, addrs: [], at: 10)
        var revoked = active.revoked(at: 20)
        revoked.providers = []
        try revoked.sign(as: owner, addrs: [], at: 20)
        #expect(ContentRecord.merge(active, revoked) == revoked)
        #expect(ContentRecord.merge(revoked, active) == revoked)  // the owner's republished active record does not undo it
        var forged = Self.record(owner: mallory.peerID).revoked(at: 20)
        try forged.sign(as: mallory, addrs: [], at: 20)
        #expect(ContentRecord.merge(active, forged) == active)  // another owner's revocation does not win by status
    }

    /// A storing DHT node keeps the first owner's record of a content id: another key's
    /// record for the same id, even a newer one, neither shadows nor revokes it there.
    @Test func aStoringNodeKeepsTheFirstOwnersRecordOfAContentID() throws {
        let owner = PeerKeyPair(), mallory = PeerKeyPair()
        var genuine = Self.record(owner: owner.peerID)
        try genuine.sign(as: owner, addrs: [], at: 10)
        var impostor = ContentRecord(contentID: "c1", contentType: "application/vivim-bundle+json",
                                     bundleHash: ContentHash(of: [6, 6, 6]),
                                     metadata: .init(size: 3, createdAt: 1_800_000_000, replicationFactor: 2), owner: mallory.peerID)
        try impostor.sign(as: mallory, addrs: [], at: 30)
        #expect(genuine.key == impostor.key)
        #expect(KademliaNode.validated(key: genuine.key, value: impostor.encoded, existing: genuine.encoded) == genuine.encoded)
        var impostorRevocation = impostor.revoked(at: 40)
        try impostorRevocation.sign(as: mallory, addrs: [], at: 40)
        #expect(KademliaNode.validated(key: genuine.key, value: impostorRevocation.encoded, existing: genuine.encoded) == genuine.encoded)
        // The owner's own newer record still replaces its older one.
        var newer = Self.record(owner: owner.peerID)
        newer.metadata.createdAt += 60
        try newer.sign(as: owner, addrs: [], at: 70)
        #expect(KademliaNode.validated(key: genuine.key, value: newer.encoded, existing: genuine.encoded) == newer.encoded)
    }

    /// Found by the soak test: a revocation naming the real owner but signed only by an
    /// attacker replaced the owner's active record at the storing DHT node (same owner,
    /// revoked wins), so honest fetches failed with `revoked`.
    @Test func anImpostorNamingTheOwnerNeitherRevokesNorReplacesTheOwnersRecord() throws {
        let owner = PeerKeyPair(), mallory = PeerKeyPair()
        var genuine = ContentRecordTests.record()
        genuine.owner = owner.peerID
        try genuine.sign(as: owner, addrs: [ContentRecordTests.addr], at: 10)
        var forgedRevocation = genuine.revoked(at: 20)
        forgedRevocation.providers = []
        try forgedRevocation.sign(as: mallory, addrs: [], at: 20)
        var forgedNewer = genuine
        forgedNewer.providers = []
        forgedNewer.bundleHash = ContentHash(of: [6, 6, 6])
        forgedNewer.metadata.createdAt += 60
        try forgedNewer.sign(as: mallory, addrs: [ContentRecordTests.addr], at: 70)
        #expect(forgedRevocation.isValid() && forgedNewer.isValid())  // self-consistent, so a DHT node accepts them
        #expect(!forgedRevocation.isSignedByItsOwner && !forgedNewer.isSignedByItsOwner)
        for forged in [forgedRevocation, forgedNewer] {
            #expect(ContentRecord.merge(genuine, forged) == genuine)
            #expect(ContentRecord.merge(forged, genuine) == genuine)
        }
        // Through a storing DHT node, in either order of arrival.
        var node = KademliaNode(localPeer: PeerKeyPair().peerID)
        for r in [genuine, forgedRevocation, forgedNewer] {
            _ = node.handleRequest(from: PeerKeyPair().peerID,
                                   KadMessage(type: .putValue, key: r.key, record: .init(key: r.key, value: r.encoded)), now: .zero)
        }
        let stored = try ContentRecord(decoding: try #require(node.localRecord(for: genuine.key)).value)
        #expect(stored == genuine)
        // The owner's own revocation still wins.
        var real = genuine.revoked(at: 30)
        try real.sign(as: owner, addrs: [], at: 30)
        #expect(ContentRecord.merge(genuine, real).status == .revoked)
    }
}

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

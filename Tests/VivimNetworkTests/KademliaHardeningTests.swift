import Testing
@testable import VivimNetwork

/// Issue 11: the Kademlia node's tables are bounded per peer and in total (security review
/// finding 5), its routing table learns only from peers themselves (finding 12), and its
/// decoder accepts what other implementations send (SPEC §8.1).
@Suite struct KademliaTableBoundsTests {
    static func addProvider(_ node: inout KademliaNode, _ peer: PeerID, _ key: [UInt8]) {
        _ = node.handleRequest(from: peer, KadMessage(type: .addProvider, key: key, providerPeers: [.init(id: peer)]), now: .zero)
    }

    static func pkRecord(_ key: PeerPublicKey) -> KadMessage {
        let k = KadRecordNamespace.publicKeyPrefix + key.peerID.bytes
        return KadMessage(type: .putValue, key: k, record: .init(key: k, value: key.protobufEncoded))
    }

    /// The finding's unit check: 100,000 provider keys from one peer, then an honest provider.
    @Test func aProviderFloodFromOnePeerLeavesRoomForAnHonestProvider() {
        var node = KademliaNode(localPeer: PeerKeyPair().peerID)
        let flooder = PeerKeyPair().peerID
        for i in 0..<100_000 { Self.addProvider(&node, flooder, Array("k\(i)".utf8)) }
        #expect(node.storedProviderEntries == node.configuration.maxProviderEntriesPerPeer)
        let honest = PeerKeyPair().peerID, key = ContentHash(of: [1]).key
        Self.addProvider(&node, honest, key)
        #expect(node.localProviders(for: key) == [honest])
    }

    /// Many Sybil identities together fill the table; an honest peer still gets in (at the
    /// expense of the largest holders), and the node's own entries always do.
    @Test func aSybilSwarmCannotKeepOutAnHonestProviderOrTheNodesOwn() {
        var config = KademliaNode.Configuration()
        config.maxProviderEntries = 100
        config.maxProviderEntriesPerPeer = 10
        let local = PeerKeyPair().peerID
        var node = KademliaNode(localPeer: local, configuration: config)
        for s in 0..<20 {
            let sybil = PeerKeyPair().peerID
            for i in 0..<10 { Self.addProvider(&node, sybil, Array("s\(s)-\(i)".utf8)) }
        }
        #expect(node.storedProviderEntries == 100)
        let honest = PeerKeyPair().peerID
        for i in 0..<3 { Self.addProvider(&node, honest, Multihash.sha256([UInt8(i)]).bytes) }
        for i in 0..<3 { #expect(node.localProviders(for: Multihash.sha256([UInt8(i)]).bytes) == [honest]) }
        #expect(node.storedProviderEntries == 100)
        let own = Multihash.sha256(Array("own".utf8)).bytes
        _ = node.startQuery(.provide, key: own, now: .zero)
        #expect(node.localProviders(for: own) == [local])
    }

    /// A key whose provider slots are taken by peers holding many entries gives way.
    @Test func aFullKeyGivesWayToAProviderHoldingFewerEntries() {
        var config = KademliaNode.Configuration()
        config.maxProvidersPerKey = 2
        var node = KademliaNode(localPeer: PeerKeyPair().peerID, configuration: config)
        let key = Multihash.sha256([7]).bytes
        let heavy = (0..<2).map { _ in PeerKeyPair().peerID }
        for (n, h) in heavy.enumerated() {
            for i in 0..<5 { Self.addProvider(&node, h, Array("h\(n)-\(i)".utf8)) }
            Self.addProvider(&node, h, key)
        }
        let honest = PeerKeyPair().peerID
        Self.addProvider(&node, honest, key)
        #expect(node.localProviders(for: key).contains(honest))
        #expect(node.localProviders(for: key).count == 2)
    }

    @Test func keysHaveMaximumLengths() {
        var node = KademliaNode(localPeer: PeerKeyPair().peerID)
        let peer = PeerKeyPair().peerID
        let longest = [UInt8](repeating: 1, count: node.configuration.maxProviderKeyLength)
        Self.addProvider(&node, peer, longest)
        Self.addProvider(&node, peer, longest + [1])
        #expect(node.localProviders(for: longest) == [peer])
        #expect(node.localProviders(for: longest + [1]).isEmpty)
        #expect(node.handleRequest(from: peer, KadMessage(type: .getProviders, key: longest + [1]), now: .zero) == nil)
        let overlong = ContentRecord.keyPrefix + [UInt8](repeating: 0x61, count: ContentRecord.maxContentID + 1)
        #expect(node.handleRequest(from: peer, KadMessage(type: .getValue, key: overlong), now: .zero) == nil)
        #expect(node.handleRequest(from: peer, KadMessage(type: .findNode, key: overlong), now: .zero) == nil)
        #expect(node.handleRequest(from: peer, KadMessage(type: .getValue, key: Array(overlong.dropLast())), now: .zero) != nil)
    }

    /// PUT_VALUE is accepted only in `/vivim/record/` and `/pk/`, each validated.
    @Test func putValueIsAcceptedOnlyInKnownNamespacesWithValidValues() throws {
        var node = KademliaNode(localPeer: PeerKeyPair().peerID)
        let sender = PeerKeyPair().peerID
        func put(_ key: [UInt8], _ value: [UInt8]) -> Bool {
            node.handleRequest(from: sender, KadMessage(type: .putValue, key: key, record: .init(key: key, value: value)), now: .zero) != nil
        }
        #expect(!put(Array("/v/key".utf8), [1, 2, 3]))
        #expect(!put(Array("/ipns/x".utf8), [1, 2, 3]))
        #expect(!put(Array("plain".utf8), [1, 2, 3]))
        let a = PeerKeyPair().publicKey, b = PeerKeyPair().publicKey
        let raw = KadRecordNamespace.publicKeyPrefix + a.peerID.bytes
        let hexKey = KadRecordNamespace.publicKeyPrefix + Array(hex(b.peerID.bytes).utf8)
        #expect(!put(raw, b.protobufEncoded))  // someone else's key under a's id
        #expect(!put(raw, [0x08, 0x01]))
        #expect(put(raw, a.protobufEncoded))  // go form: raw peer id bytes
        #expect(put(hexKey, b.protobufEncoded))  // py-libp2p form: hex of them
        #expect(node.localRecord(for: hexKey)?.value == b.protobufEncoded)
        #expect(node.storedRecords == 2)
    }

    /// A record flood is bounded per peer, by bytes and in total; an honest peer still stores.
    @Test func recordsAreBoundedPerPeerInTotalAndInBytes() {
        var config = KademliaNode.Configuration()
        config.maxRecords = 40
        config.maxRecordsPerPeer = 5
        config.maxRecordBytes = 20 * 80
        var node = KademliaNode(localPeer: PeerKeyPair().peerID, configuration: config)
        let keys = (0..<120).map { _ in PeerKeyPair().publicKey }
        let flooder = PeerKeyPair().peerID
        for k in keys.prefix(20) { _ = node.handleRequest(from: flooder, Self.pkRecord(k), now: .zero) }
        #expect(node.storedRecords == 5)
        for s in 0..<10 {
            let sybil = PeerKeyPair().peerID
            for k in keys[(20 + s * 5)..<(25 + s * 5)] { _ = node.handleRequest(from: sybil, Self.pkRecord(k), now: .zero) }
        }
        #expect(node.storedRecordBytes <= config.maxRecordBytes)
        #expect(node.storedRecords <= 20)
        let honest = PeerKeyPair().peerID, mine = keys[119]
        #expect(node.handleRequest(from: honest, Self.pkRecord(mine), now: .zero) != nil)
        #expect(node.localRecord(for: Self.pkRecord(mine).key) != nil)
        #expect(node.storedRecordBytes <= config.maxRecordBytes)
    }

    /// Expired entries give their slots back.
    @Test func expiryReleasesSlots() {
        var config = KademliaNode.Configuration()
        config.providerTTL = .seconds(10)
        config.recordTTL = .seconds(10)
        var node = KademliaNode(localPeer: PeerKeyPair().peerID, configuration: config)
        let peer = PeerKeyPair().peerID
        for i in 0..<5 { Self.addProvider(&node, peer, [UInt8(i)]) }
        _ = node.handleRequest(from: peer, Self.pkRecord(PeerKeyPair().publicKey), now: .zero)
        #expect(node.storedProviderEntries == 5 && node.storedRecords == 1)
        var rng = SplitMix64(seed: 3)
        _ = node.tick(now: .zero + .seconds(11), rng: &rng)
        #expect(node.storedProviderEntries == 0 && node.storedRecords == 0 && node.storedRecordBytes == 0)
    }
}

@Suite struct KademliaEclipseTests {
    static let good = try! Multiaddr("/ip4/127.0.0.1/tcp/4001")
    static let bogus = try! Multiaddr("/ip4/10.9.9.9/tcp/1")

    /// The finding's unit check: a third party's `closerPeers` neither rewrite a known
    /// peer's address nor add peers to the table; a failed dial to an address a third
    /// party named does not evict a peer the table knows first-hand.
    @Test func thirdPartyCloserPeersNeitherRewriteAddressesNorEnterTheTable() throws {
        var node = KademliaNode(localPeer: PeerKeyPair().peerID)
        let honest = PeerKeyPair().peerID, responder = PeerKeyPair().peerID, sybil = PeerKeyPair().peerID
        node.addPeer(honest, addrs: [Self.good], now: .zero)
        node.addPeer(responder, addrs: [try Multiaddr("/ip4/127.0.0.1/tcp/4002")], now: .zero)
        let (_, actions) = node.startQuery(.findNode, key: [1, 2, 3], now: .zero)
        let requests = actions.compactMap { a -> (KademliaNode.RequestID, PeerID, [Multiaddr])? in
            if case .request(let rid, let to, let addrs, _) = a { (rid, to, addrs) } else { nil }
        }
        let toResponder = try #require(requests.first { $0.1 == responder })
        let next = node.handleResponse(toResponder.0, KadMessage(type: .findNode, closerPeers: [
            .init(id: honest, addrs: [Self.bogus]), .init(id: sybil, addrs: [Self.bogus]),
        ]), now: .zero)
        #expect(node.routingTable.addresses(of: honest) == [Self.good])
        #expect(!node.routingTable.contains(sybil))

        // The lookup dials the sybil at the address it was named with; meanwhile the
        // sybil's id connects to us itself from elsewhere, so the table knows it first-hand.
        let toSybil = try #require(next.compactMap { a -> KademliaNode.RequestID? in
            if case .request(let rid, sybil, [Self.bogus], _) = a { rid } else { nil }
        }.first)
        let own = try Multiaddr("/ip4/127.0.0.1/tcp/4003")
        _ = node.handleRequest(from: sybil, addrs: [own], KadMessage(type: .ping), now: .zero)
        _ = node.handleFailure(toSybil, now: .zero)
        #expect(node.routingTable.contains(sybil))
        #expect(node.routingTable.addresses(of: sybil) == [own])
        #expect(node.routingTable.contains(honest))
    }

    /// A peer the table knows is dialled at the table's addresses even when a lookup
    /// learns it from a third party with others; failing there does evict it.
    @Test func aKnownPeerIsDialledAtItsOwnAddresses() throws {
        var config = KademliaNode.Configuration()
        config.alpha = 1
        var node = KademliaNode(localPeer: PeerKeyPair().peerID, configuration: config)
        let responder = PeerKeyPair().peerID, honest = PeerKeyPair().peerID
        node.addPeer(responder, addrs: [try Multiaddr("/ip4/127.0.0.1/tcp/4002")], now: .zero)
        // Known first-hand, but only after the lookup below took its seeds.
        let (_, first) = node.startQuery(.findNode, key: [9], now: .zero)
        guard case .request(let rid, responder, _, _) = try #require(first.first) else { Issue.record("no request"); return }
        node.addPeer(honest, addrs: [Self.good], now: .zero)
        let next = node.handleResponse(rid, KadMessage(type: .findNode, closerPeers: [.init(id: honest, addrs: [Self.bogus])]), now: .zero)
        let dial = try #require(next.compactMap { a -> (KademliaNode.RequestID, [Multiaddr])? in
            if case .request(let r, honest, let addrs, _) = a { (r, addrs) } else { nil }
        }.first)
        #expect(dial.1 == [Self.good])
        _ = node.handleFailure(dial.0, now: .zero)
        #expect(!node.routingTable.contains(honest))
    }

    /// A responder is seen, with the address the shell reached it at when the table has none.
    @Test func aResponderIsAddedWithTheAddressItWasReachedAt() throws {
        var node = KademliaNode(localPeer: PeerKeyPair().peerID)
        let seed = PeerKeyPair().peerID, fresh = PeerKeyPair().peerID
        node.addPeer(seed, addrs: [Self.good], now: .zero)
        let (_, first) = node.startQuery(.findNode, key: [4], now: .zero)
        guard case .request(let rid, seed, _, _) = try #require(first.first) else { Issue.record("no request"); return }
        let next = node.handleResponse(rid, KadMessage(type: .findNode, closerPeers: [.init(id: fresh, addrs: [Self.bogus])]), now: .zero)
        #expect(!node.routingTable.contains(fresh))
        let r2 = try #require(next.compactMap { a -> KademliaNode.RequestID? in
            if case .request(let r, fresh, _, _) = a { r } else { nil }
        }.first)
        let reached = try Multiaddr("/ip4/127.0.0.1/tcp/4010")
        _ = node.handleResponse(r2, KadMessage(type: .findNode), reachedAt: reached, now: .zero)
        #expect(node.routingTable.addresses(of: fresh) == [reached])
    }
}

/// SPEC §8.1 wire tolerance: the exact bytes py-libp2p 0.8.1 (proto3, the same encoding as
/// go-libp2p's generated code) writes.
@Suite struct KadWireToleranceTests {
    static func bytes(_ hexText: String) -> [UInt8] {
        var out: [UInt8] = []
        var it = Array(hexText.utf8).makeIterator()
        while let h = it.next(), let l = it.next() { out.append(UInt8(String(decoding: [h, l], as: UTF8.self), radix: 16)!) }
        return out
    }

    /// PUT_VALUE: no type field (0 is omitted), a record with author and signature (3, 4),
    /// and a senderRecord (11).
    @Test func decodesPyLibp2psPutValueWithoutATypeField() throws {
        let m = try KadMessage(decoding: Self.bytes("12082f706b2f616263641a160a082f706b2f61626364120208011a020102220203045a020506"))
        #expect(m.type == .putValue)
        #expect(m.key == Array("/pk/abcd".utf8))
        #expect(m.record == KadMessage.Record(key: Array("/pk/abcd".utf8), value: [0x08, 0x01]))
    }

    /// FIND_NODE with clusterLevelRaw = -1 (a 10-byte varint), and a peer with a
    /// connection type and a signedRecord (4).
    @Test func decodesPyLibp2psFindNodeWithUnknownAndNegativeFields() throws {
        let m = try KadMessage(decoding: Self.bytes(
            "08041201aa42370a2600240801122011111111111111111111111111111111111111111111111111111111111111111208047f000001060fa1180122010750ffffffffffffffffff01"))
        #expect(m.type == .findNode && m.key == [0xAA])
        #expect(m.closerPeers.count == 1)
        #expect(m.closerPeers.first?.connection == .connected)
        #expect(m.closerPeers.first?.addrs == [try Multiaddr("/ip4/127.0.0.1/tcp/4001")])
    }

    @Test func decodesAGetValueAnswerWithTimeReceived() throws {
        let m = try KadMessage(decoding: Self.bytes("080112016b1a1c0a016b1201762a14323032362d31322d30325431353a30303a30305a"))
        #expect(m.type == .getValue)
        #expect(m.record?.value == Array("v".utf8))
        #expect(m.record?.timeReceived == "2026-12-02T15:00:00Z")
    }

    /// Every field omitted: an empty PUT_VALUE; unknown fields of every wire type skipped.
    @Test func defaultsAndUnknownFieldsAtEveryLevel() throws {
        #expect(try KadMessage(decoding: []) == KadMessage(type: .putValue))
        var record = ProtobufWriter()
        record.writeVarint(field: 99, 1)
        var peer = ProtobufWriter()
        peer.writeBytes(field: 1, PeerKeyPair().peerID.bytes)
        peer.writeVarint(field: 77, 5)
        var w = ProtobufWriter()
        w.writeVarint(field: 1, 3)
        w.writeBytes(field: 3, record.bytes)
        w.writeBytes(field: 9, peer.bytes)
        w.writeBytes(field: 12, [1, 2, 3])
        w.writeVarint(field: 13, .max)
        var bytes = w.bytes
        bytes += [0x71] + [UInt8](repeating: 0, count: 8)  // field 14, fixed64
        bytes += [0x7D, 0, 0, 0, 0]  // field 15, fixed32
        let m = try KadMessage(decoding: bytes)
        #expect(m.type == .getProviders)
        #expect(m.record == KadMessage.Record(key: [], value: []))
        #expect(m.providerPeers.count == 1)
    }
}

/// Issue 11 property test: the extreme values in every numeric field of every Kademlia
/// message type and of the content records they carry, through the Sans-IO node.
@Suite struct KademliaExtremeValueTests {
    static func message(type: UInt64, cluster: UInt64, connection: UInt64, value: UInt64, record: [UInt8]?, key: [UInt8]) -> [UInt8] {
        var peer = ProtobufWriter()
        peer.writeBytes(field: 1, PeerKeyPair().peerID.bytes)
        peer.writeInt(field: 3, Int64(Int32(truncatingIfNeeded: connection)))
        var r = ProtobufWriter()
        r.writeBytes(field: 1, key)
        r.writeBytes(field: 2, record ?? [])
        r.writeString(field: 5, String(value))
        var w = ProtobufWriter()
        w.writeInt(field: 1, Int64(Int32(truncatingIfNeeded: type)))
        w.writeInt(field: 10, Int64(Int32(truncatingIfNeeded: cluster)))
        w.writeBytes(field: 2, key)
        w.writeBytes(field: 3, r.bytes)
        w.writeBytes(field: 8, peer.bytes)
        w.writeBytes(field: 9, peer.bytes)
        return w.bytes
    }

    static func contentRecord(_ v: UInt64, signer: PeerKeyPair) throws -> ContentRecord {
        var r = ContentRecord(contentID: "c\(v % 7)", contentType: "t", bundleHash: ContentHash(of: [UInt8(v & 0xFF)]),
                              metadata: .init(size: v, createdAt: v, expiresAt: v == 0 ? nil : v,
                                              replicationFactor: UInt32(truncatingIfNeeded: v)),
                              owner: signer.peerID, status: v % 2 == 0 ? .active : .revoked, revokedAt: v)
        try r.sign(as: signer, addrs: [], at: v)
        return r
    }

    @Test func extremeValuesInEveryFieldNeitherTrapNorGrowState() throws {
        var config = KademliaNode.Configuration()
        config.maxRecords = 8
        config.maxRecordsPerPeer = 4
        config.maxProviderEntries = 8
        config.maxProviderEntriesPerPeer = 4
        let local = PeerKeyPair().peerID
        var node = KademliaNode(localPeer: local, configuration: config)
        let signer = PeerKeyPair()
        let remote = PeerKeyPair().peerID
        node.addPeer(remote, now: .zero)
        var rng = SplitMix64(seed: 11)
        for v in extremeWireValues {
            let now = NetworkInstant(nanoseconds: v)
            let content = try Self.contentRecord(v, signer: signer)
            // Every message type and out-of-range type values, as requests and as answers.
            for type in [0, 1, 2, 3, 4, 5, v] {
                for key in [content.key, Multihash.sha256([UInt8(v & 0xFF)]).bytes] {
                    let bytes = Self.message(type: type, cluster: v, connection: v, value: v, record: content.encoded, key: key)
                    guard let m = try? KadMessage(decoding: bytes) else { continue }
                    _ = node.handleRequest(from: remote, m, now: now)
                    _ = node.handleRequest(from: PeerKeyPair().peerID, m, now: now)
                    for kind in [KademliaNode.QueryKind.getValue, .getProviders(wanted: Int(truncatingIfNeeded: v)), .findNode] {
                        let (_, actions) = node.startQuery(kind, key: key, now: now)
                        for case .request(let rid, _, _, _) in actions {
                            _ = node.handleResponse(rid, m, now: now)
                        }
                    }
                }
            }
            // A length prefix of v in every length-delimited field: refused, never trusted.
            for field: UInt8 in [0x12, 0x1A, 0x42, 0x4A] {
                var bytes = [field]
                UVarint.encode(v, into: &bytes)
                bytes += [1, 2, 3]
                _ = try? KadMessage(decoding: bytes)
            }
            _ = node.tick(now: now, rng: &rng)
        }
        #expect(node.storedRecords <= config.maxRecords)
        #expect(node.storedProviderEntries <= config.maxProviderEntries)
        #expect(node.storedRecordBytes <= config.maxRecordBytes)
        #expect(node.routingTable.count <= 256 * config.k)
        // At the end of time every request times out and every lookup drains.
        for _ in 0..<500 where node.activeQueries > 0 || node.pendingRequests > 0 {
            _ = node.tick(now: .distantFuture, rng: &rng)
        }
        #expect(node.activeQueries == 0 && node.pendingRequests == 0)
    }
}

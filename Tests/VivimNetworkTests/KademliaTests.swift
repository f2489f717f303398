import Testing
@testable import VivimNetwork

@Suite struct KadKeyTests {
    @Test func distanceIsXORAndOrdersAsUnsignedBigEndian() {
        let a = KadKey(digest: [0x80] + [UInt8](repeating: 0, count: 31))
        let b = KadKey(digest: [0x01] + [UInt8](repeating: 0, count: 31))
        #expect(a.distance(to: b).bytes.first == 0x81)
        #expect(b < a)
        #expect(a.distance(to: a).leadingZeroBits == 256)
        #expect(b.leadingZeroBits == 7)
    }

    @Test func randomKeysLandInTheRequestedBucket() {
        var rng = SplitMix64(seed: 5)
        let local = KadKey(hashing: [1, 2, 3])
        for cpl in [0, 1, 7, 63, 64, 100, 200, 255] {
            #expect(local.random(withCommonPrefix: cpl, using: &rng).distance(to: local).leadingZeroBits == cpl)
        }
    }

    @Test func keyIsSHA256OfThePeerIDBytes() throws {
        let key = try PeerKeyPair(seed: PeerIDTests.seed)
        #expect(KadKey(peer: key.peerID) == KadKey(digest: Multihash.sha256(key.peerID.bytes).digest))
    }
}

@Suite struct KadMessageTests {
    @Test func roundTripsEveryField() throws {
        let p1 = KadMessage.Peer(id: PeerKeyPair().peerID, addrs: [try Multiaddr("/ip4/127.0.0.1/tcp/4001")], connection: .connected)
        let p2 = KadMessage.Peer(id: PeerKeyPair().peerID)
        let m = KadMessage(type: .getProviders, key: Multihash.sha256([1]).bytes,
                           record: .init(key: [1], value: [2, 3], timeReceived: "2026-01-01T00:00:00Z"),
                           closerPeers: [p1], providerPeers: [p2])
        #expect(try KadMessage(decoding: m.encoded) == m)
    }

    @Test func encodesFindNodeAsTheSpecLayout() throws {
        // type = FIND_NODE (field 1 varint 4), key = field 2.
        #expect(KadMessage(type: .findNode, key: [0xAA]).encoded == [0x08, 0x04, 0x12, 0x01, 0xAA])
    }

    @Test func skipsUnknownAddressesButRejectsBadPeerIDs() throws {
        var peer = ProtobufWriter()
        peer.writeBytes(field: 1, PeerKeyPair().peerID.bytes)
        peer.writeBytes(field: 2, [0xCC, 0x03, 0x00])  // unknown multiaddr protocol
        var w = ProtobufWriter()
        w.writeVarint(field: 1, 4)
        w.writeBytes(field: 8, peer.bytes)
        let decoded = try KadMessage(decoding: w.bytes)
        #expect(decoded.closerPeers.count == 1 && decoded.closerPeers[0].addrs.isEmpty)

        var bad = ProtobufWriter()
        bad.writeVarint(field: 1, 4)
        bad.writeBytes(field: 8, [0x0A, 0x02, 0xFF, 0xFF])
        #expect(throws: WireError.self) { try KadMessage(decoding: bad.bytes) }
        #expect(throws: WireError.self) { try KadMessage(decoding: [0x08, 0x09]) }  // unknown type
        // No type field: proto3 omits the default, PUT_VALUE (SPEC §8.1).
        #expect(try KadMessage(decoding: [0x12, 0x00]) == KadMessage(type: .putValue))
    }
}

@Suite struct RoutingTableTests {
    @Test func keepsAtMostKPeersPerBucketAndPromotesReplacements() throws {
        let local = PeerKeyPair().peerID
        var table = RoutingTable(localKey: KadKey(peer: local), k: 2)
        var byBucket: [Int: [PeerID]] = [:]
        while (byBucket[0]?.count ?? 0) < 3 {
            let p = PeerKeyPair().peerID
            if table.bucketIndex(for: KadKey(peer: p)) == 0 { byBucket[0, default: []].append(p) }
        }
        let peers = byBucket[0]!
        for p in peers { table.seen(p, at: .zero) }
        #expect(table.contains(peers[0]) && table.contains(peers[1]) && !table.contains(peers[2]))
        table.remove(peers[0])
        #expect(table.contains(peers[2]))
    }

    @Test func returnsTheClosestPeersInOrder() {
        var table = RoutingTable(localKey: KadKey(peer: PeerKeyPair().peerID), k: 20)
        let peers = (0..<60).map { _ in PeerKeyPair().peerID }
        for p in peers { table.seen(p, at: .zero) }
        let target = KadKey(hashing: [9])
        let closest = table.closest(to: target, count: 5).map(\.key)
        let all = table.allPeers.map(\.key).sorted { $0.distance(to: target) < $1.distance(to: target) }
        #expect(closest == Array(all.prefix(5)))
    }
}

@Suite struct KademliaNodeTests {
    @Test func acceptsProviderRecordsOnlyForTheSender() {
        let sender = PeerKeyPair().peerID, other = PeerKeyPair().peerID
        var node = KademliaNode(localPeer: PeerKeyPair().peerID)
        let key = Multihash.sha256([1]).bytes
        let forged = KadMessage(type: .addProvider, key: key, providerPeers: [.init(id: other), .init(id: sender)])
        #expect(node.handleRequest(from: sender, forged, now: .zero) == nil)
        #expect(node.localProviders(for: key) == [sender])
        let reply = node.handleRequest(from: other, KadMessage(type: .getProviders, key: key), now: .zero)
        #expect(reply?.providerPeers.map(\.id) == [sender])
    }

    @Test func expiresProviderRecordsAfterTheirTTL() {
        var config = KademliaNode.Configuration()
        config.providerTTL = .seconds(60)
        let sender = PeerKeyPair().peerID
        var node = KademliaNode(localPeer: PeerKeyPair().peerID, configuration: config)
        let key = Multihash.sha256([2]).bytes
        _ = node.handleRequest(from: sender, KadMessage(type: .addProvider, key: key, providerPeers: [.init(id: sender)]), now: .zero)
        var rng = SplitMix64(seed: 1)
        _ = node.tick(now: .zero + .seconds(59), rng: &rng)
        #expect(node.localProviders(for: key) == [sender])
        _ = node.tick(now: .zero + .seconds(61), rng: &rng)
        #expect(node.localProviders(for: key).isEmpty)
    }

    @Test func storesAndServesValuesButRejectsMismatchedKeys() {
        var node = KademliaNode(localPeer: PeerKeyPair().peerID)
        let from = PeerKeyPair().peerID
        let owner = PeerKeyPair().publicKey
        let key = KadRecordNamespace.publicKeyPrefix + owner.peerID.bytes, other = KadRecordNamespace.publicKeyPrefix + from.bytes
        let record = KadMessage.Record(key: key, value: owner.protobufEncoded)
        #expect(node.handleRequest(from: from, KadMessage(type: .putValue, key: key, record: record), now: .zero) != nil)
        #expect(node.handleRequest(from: from, KadMessage(type: .putValue, key: other, record: record), now: .zero) == nil)
        let reply = node.handleRequest(from: from, KadMessage(type: .getValue, key: key), now: .zero)
        #expect(reply?.record?.value == owner.protobufEncoded)
        #expect(node.localRecord(for: other) == nil)
    }

    @Test func timesOutUnansweredRequestsAndEvictsThePeer() {
        var config = KademliaNode.Configuration()
        config.requestTimeout = .seconds(5)
        var node = KademliaNode(localPeer: PeerKeyPair().peerID, configuration: config)
        let peer = PeerKeyPair().peerID
        node.addPeer(peer, now: .zero)
        let (qid, actions) = node.startQuery(.findNode, key: [7], now: .zero)
        #expect(actions.count == 1)
        var rng = SplitMix64(seed: 1)
        let after = node.tick(now: .zero + .seconds(6), rng: &rng)
        #expect(after.contains { if case .queryFinished(qid, _) = $0 { true } else { false } })
        #expect(!node.routingTable.contains(peer))
    }

    @Test func republishesProvidedKeysOnSchedule() {
        var config = KademliaNode.Configuration()
        config.providerRepublishInterval = .seconds(30)
        config.requestTimeout = .seconds(1000)
        config.bucketRefreshInterval = .seconds(1_000_000)
        var node = KademliaNode(localPeer: PeerKeyPair().peerID, configuration: config)
        node.addPeer(PeerKeyPair().peerID, now: .zero)
        _ = node.startQuery(.provide, key: [5], now: .zero)
        var rng = SplitMix64(seed: 1)
        let early = node.tick(now: .zero + .seconds(10), rng: &rng)
        #expect(!early.contains { if case .request = $0 { true } else { false } })
        let due = node.tick(now: .zero + .seconds(31), rng: &rng)
        #expect(due.contains { if case .request(_, _, _, let m) = $0 { m.type == .findNode && m.key == [5] } else { false } })
    }
}

/// Issue 5 acceptance targets on a deterministic 1,000-node simulation.
@Suite(.serialized) struct DHTSimulationTests {
    @Test func thousandNodeLookupsAreAccurateAndShortAndSurviveFailures() throws {
        var config = DHTSimulation.Configuration()
        config.nodeCount = 1000
        config.seed = 2026
        var sim = try DHTSimulation(configuration: config)
        sim.bootstrap()

        let lookups = sim.measureLookups(count: 200)
        #expect(lookups.lookups == 200)
        #expect(lookups.accuracy >= 0.99, "only \(lookups.accurate)/\(lookups.lookups) lookups found ≥18 of the true 20 closest")
        let bound = NetworkBenchmark.hopBound(nodeCount: 1000, k: 20)
        #expect(bound == 5)  // ⌈log2 1000 / log2 20⌉ + 2 = ⌈2.31⌉ + 2
        #expect(lookups.meanHops <= Double(bound), "mean hops \(lookups.meanHops) above \(bound)")

        let providers = sim.measureProviderLookups(keys: 100, killFraction: 0.2)
        #expect(sim.alive.filter { !$0 }.count == 200)
        #expect(providers.successRate >= 0.95, "provider lookups found \(providers.succeeded)/\(providers.lookups)")
    }

    @Test func isDeterministicForASeed() throws {
        func run() throws -> (Double, Double, Int) {
            var config = DHTSimulation.Configuration()
            config.nodeCount = 80
            config.seed = 9
            config.lossRate = 0.02
            config.encodeMessages = true
            var sim = try DHTSimulation(configuration: config)
            sim.bootstrap()
            let s = sim.measureLookups(count: 20)
            return (s.meanHops, s.meanOverlap, sim.messagesDelivered)
        }
        let a = try run(), b = try run()
        #expect(a == b)
    }

    @Test func aPartitionedNodeCannotFindTheOtherSide() throws {
        var config = DHTSimulation.Configuration()
        config.nodeCount = 60
        config.kademlia.requestTimeout = .seconds(1)
        var sim = try DHTSimulation(configuration: config)
        sim.bootstrap()
        for i in 0..<30 { sim.partition[i] = 1 }
        let key = sim.randomKey()
        let q = sim.startQuery(.findNode, key: key, on: 0)
        sim.run()
        let result = try #require(sim.result(of: q, on: 0))
        #expect(result.closest.allSatisfy { id in sim.peers.firstIndex(of: id)! < 30 })
    }
}

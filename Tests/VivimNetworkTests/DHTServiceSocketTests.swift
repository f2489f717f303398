import Testing
@testable import VivimNetwork

/// `KademliaNode` behind `DHTService` on real loopback sockets.
@Suite(.timeLimit(.minutes(1))) struct DHTServiceSocketTests {
    struct Node {
        let host: P2PHost
        let dht: DHTService
        let address: Multiaddr
    }

    static func network(size: Int) async throws -> [Node] {
        var nodes: [Node] = []
        for _ in 0..<size {
            let host = P2PHost(identity: PeerKeyPair())
            let address = try await host.listen()
            var config = DHTService.Configuration()
            config.kademlia.requestTimeout = .seconds(5)
            let dht = DHTService(host: host, configuration: config)
            await dht.start()
            nodes.append(Node(host: host, dht: dht, address: address))
        }
        for node in nodes.dropFirst() {
            await node.dht.addPeer(nodes[0].host.peerID, addrs: [nodes[0].address])
            _ = try await node.dht.findNode(node.host.peerID.bytes)
        }
        return nodes
    }

    static func shutdown(_ nodes: [Node]) async {
        for n in nodes { await n.dht.stop(); await n.host.shutdown() }
    }

    @Test func findsTheClosestPeersOfATwelveNodeNetwork() async throws {
        let nodes = try await Self.network(size: 12)
        let key = Array("vivim".utf8)
        let result = try await nodes[7].dht.findNode(key)
        let target = KadKey(hashing: key)
        let truth = nodes.map(\.host.peerID).filter { $0 != nodes[7].host.peerID }
            .sorted { KadKey(peer: $0).distance(to: target) < KadKey(peer: $1).distance(to: target) }
        #expect(result.closest == truth)  // k = 20 > 11 peers: it must find all of them, in order
        await Self.shutdown(nodes)
    }

    @Test func providerRecordsAndValuesTravelBetweenNodes() async throws {
        let nodes = try await Self.network(size: 8)
        let key = Multihash.sha256(Array("bundle".utf8)).bytes
        let provided = try await nodes[3].dht.provide(key)
        #expect(!provided.closest.isEmpty)
        // ADD_PROVIDER is fire-and-forget: wait (bounded) until a record lands.
        var found: [KadMessage.Peer] = []
        for _ in 0..<50 {
            found = try await nodes[6].dht.findProviders(key)
            if !found.isEmpty { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(found.map(\.id).contains(nodes[3].host.peerID))
        #expect(found.first?.addrs.contains(nodes[3].address.withoutPeerID) == true)

        // A public-key record (`/pk/`, validated by every node) travels; a value outside the
        // known namespaces stays with the node that put it.
        let owner = PeerKeyPair().publicKey
        let pk = KadRecordNamespace.publicKeyPrefix + owner.peerID.bytes
        try await nodes[1].dht.putValue(owner.protobufEncoded, for: pk)
        #expect(try await nodes[5].dht.getValue(pk) == owner.protobufEncoded)
        try await nodes[1].dht.putValue([1, 2, 3], for: Array("/v/key".utf8))
        #expect(try await nodes[5].dht.getValue(Array("/v/key".utf8)) == nil)
        await Self.shutdown(nodes)
    }
}

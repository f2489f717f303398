import Testing
@testable import VivimNetwork

/// Twenty in-process nodes on loopback sockets, each a host with the DHT,
/// gossipsub and content transfer: content published on one node is announced,
/// found through the DHT and fetched, hash-verified, by another.
@Suite(.timeLimit(.minutes(2))) struct NetworkIntegrationTests {
    final class Node: Sendable {
        let host: P2PHost
        let dht: DHTService
        let pubsub: PubSubService
        let content: ContentTransferService
        let store = ContentTransferSocketTests.Store()
        let address: Multiaddr

        init() async throws {
            host = P2PHost(identity: PeerKeyPair())
            address = try await host.listen()
            dht = DHTService(host: host)
            var gossip = GossipsubRouter.Configuration()
            gossip.heartbeatInterval = .milliseconds(200)
            pubsub = PubSubService(host: host, configuration: gossip)
            let store = self.store
            content = ContentTransferService(host: host) { hash in store.get(hash) }
            await dht.start()
            await pubsub.start()
            await content.start()
        }

        func stop() async {
            await dht.stop()
            await pubsub.stop()
            await host.shutdown()
        }
    }

    @Test func contentPublishedOnOneNodeIsFoundAndFetchedFromAnother() async throws {
        var nodes: [Node] = []
        for _ in 0..<20 { nodes.append(try await Node()) }
        for n in nodes { await n.pubsub.subscribe("network:announce") }
        for n in nodes.dropFirst() {
            await n.dht.addPeer(nodes[0].host.peerID, addrs: [nodes[0].address])
            _ = try await n.dht.findNode(n.host.peerID.bytes)
        }

        // Publish on node 5: store, provide in the DHT, announce on gossipsub.
        let bundle = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let hash = ContentHash(of: bundle)
        _ = nodes[5].store.put(bundle)
        _ = try await nodes[5].dht.provide(hash.key)

        // Node 17 finds a provider through the DHT and fetches the verified bytes.
        var providers: [KadMessage.Peer] = []
        for _ in 0..<50 where providers.isEmpty {
            providers = try await nodes[17].dht.findProviders(hash.key)
            if providers.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        }
        let provider = try #require(providers.first)
        #expect(provider.id == nodes[5].host.peerID)
        let fetched = try await nodes[17].content.fetch(hash, from: provider.id, addrs: provider.addrs)
        #expect(fetched == bundle)

        // The announcement reaches another node over the gossipsub mesh.
        let listener = nodes[12].pubsub
        let listening = Task { () -> [UInt8]? in
            for await d in listener.messages { return d.data }
            return nil
        }
        var published = false
        for _ in 0..<100 where !published {
            if await nodes[5].pubsub.mesh("network:announce").isEmpty == false {
                try await nodes[5].pubsub.publish("network:announce", hash.key)
                published = true
            } else {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        let announced = try await withThrowingTaskGroup(of: [UInt8]?.self) { group in
            group.addTask { await listening.value }
            group.addTask { try await Task.sleep(for: .seconds(10)); listening.cancel(); return nil }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
        #expect(announced == hash.key)
        for n in nodes { await n.stop() }
    }
}

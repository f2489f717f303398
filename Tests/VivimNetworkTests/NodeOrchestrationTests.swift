import Foundation
import Testing
@testable import VivimNetwork

/// The orchestration core drives a real node (SPEC §8.7): the services' periodic work runs
/// as scheduled tasks, fetches are ranked and fed back into the topology, and replica
/// holders are chosen through it. Real nodes on 127.0.0.1, real files.
@Suite struct NodeOrchestrationTests {
    @Test func theSchedulerDrivesTheNodeAndTheRouterLearnsFromFetches() async throws {
        let root = try NodeRestartTests.root()
        defer { removeTree(root) }
        let (seed, address, holders) = try await NodeRestartTests.network(root, count: 3)
        let reader = try await NodeRestartTests.node(root + "/reader", type: .client, bootstrap: [address])
        let all = [seed, reader] + holders
        defer { Task { for n in all { await n.shutdown() } } }
        let owner = holders[0]
        let joined = try await NodeRestartTests.eventually { await owner.dht.routingTableSize >= 3 }
        if !joined {
            for n in all { print("DIAG", n.peerID, await n.dht.routingTableSize, await n.connections.connectedPeers) }
        }
        try #require(joined)

        // Every kind of maintenance the node registers has run on the scheduler.
        let kinds = ["dht-maintenance", "replication", "health-check"]
        #expect(try await NodeRestartTests.eventually {
            let tasks = await owner.orchestration.snapshot().tasks
            return kinds.allSatisfy { kind in tasks.contains { $0.name == kind && $0.runs >= 2 && $0.failures == 0 } }
        })
        let names = Set(await owner.orchestration.snapshot().tasks.map(\.name))
        #expect(names.isSuperset(of: kinds + ["crdt-sync"]))

        // Peers declare their node type (identify agent version); the topology learns it.
        _ = try await reader.host.dial(try #require(await owner.listenAddresses.first))
        let expected: [(PeerID, VivimNode.NodeType)] = [(seed.peerID, .bootstrap), (reader.peerID, .client),
                                                         (holders[1].peerID, .storage), (holders[2].peerID, .storage)]
        #expect(try await NodeRestartTests.eventually {
            for (peer, type) in expected where await owner.orchestration.peer(peer)?.nodeType != type { return false }
            return true
        })

        // Replication goes through the topology's choice: never this node, never the BOOTSTRAP
        // seed or the CLIENT reader (both among the DHT's closest peers), and the factor is met.
        let bytes = NodeRestartTests.bundle(9)
        let hash = try await owner.publish(contentId: "orchestrated-1", bytes: bytes, replicationFactor: 2)
        #expect(try await NodeRestartTests.eventually { await owner.storage.replicas(of: hash).count == 2 })
        #expect(await owner.storage.replicas(of: hash) == [holders[1].peerID, holders[2].peerID])

        // A fetch by a reader is ranked by its router and recorded in its topology.
        #expect(try await NodeRestartTests.eventually { (try? await reader.fetch(contentId: "orchestrated-1")) == bytes })
        let stats = await reader.orchestration.snapshot().router
        #expect(stats.fetches >= 1)
        #expect(stats.bytes >= bytes.count)
        let servedBy = await owner.storage.replicas(of: hash).union([owner.peerID])
        var learned = false
        for peer in servedBy where ((await reader.orchestration.peer(peer))?.bytesTransferred ?? 0) >= bytes.count { learned = true }
        #expect(learned, "the provider that served the fetch has a transfer on record")

        // The health check feeds the connection manager's view into the topology.
        #expect(try await NodeRestartTests.eventually { await owner.orchestration.snapshot().topology.connected >= 1 })
    }
}

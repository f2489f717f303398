import Foundation
import Testing
@testable import VivimNetwork

/// Real nodes on 127.0.0.1 with real files: a node restarted on its key and content directory
/// knows, provides and can revoke what it held; an owner's revocation reaches copies readers
/// fetched (and a forged one does not); tombstones survive restarts; a damaged index is rebuilt.
@Suite(.serialized, .timeLimit(.minutes(3))) struct NodeRestartTests {
    /// A node on an ephemeral port with test-speed timers.
    static func node(_ directory: String, identity: PeerKeyPair = PeerKeyPair(), type: VivimNode.NodeType = .storage,
                     bootstrap: [Multiaddr] = [], configure: (inout VivimNode.Configuration) -> Void = { _ in }) async throws -> VivimNode {
        var config = VivimNode.Configuration(contentDirectory: directory)
        config.listen = try Multiaddr("/ip4/127.0.0.1/tcp/0")
        config.bootstrap = bootstrap
        config.nodeType = type
        config.monitorInterval = .milliseconds(300)
        config.storage.tickInterval = .milliseconds(300)
        config.storage.requestTimeout = .seconds(3)
        config.storage.indexFlushDelay = .milliseconds(20)
        config.storage.storage.repairInterval = .seconds(1)
        config.storage.storage.deletionRetryDelay = .milliseconds(200)
        config.storage.storage.revocationCheckInterval = .seconds(1)
        config.dht.kademlia.requestTimeout = .seconds(2)
        config.gossip.heartbeatInterval = .milliseconds(200)
        configure(&config)
        let node = try VivimNode(identity: identity, configuration: config)
        try await node.start()
        return node
    }

    /// Polls `condition` every 50 ms for at most `seconds`; returns whether it held.
    static func eventually(seconds: Int = 30, _ condition: @Sendable () async throws -> Bool) async throws -> Bool {
        for _ in 0..<(seconds * 20) {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }

    static func bundle(_ seed: UInt8, size: Int = 50_000) -> [UInt8] { (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) } }

    /// A seed (holds no replicas) and `count` storage nodes bootstrapped from it, in `root`.
    static func network(_ root: String, count: Int, configure: @escaping (inout VivimNode.Configuration) -> Void = { _ in })
        async throws -> (seed: VivimNode, address: Multiaddr, nodes: [VivimNode]) {
        let seed = try await node(root + "/seed", type: .bootstrap, configure: configure)
        let address = try #require(await seed.listenAddresses.first)
        var nodes: [VivimNode] = []
        for i in 0..<count { nodes.append(try await node(root + "/n\(i)", bootstrap: [address], configure: configure)) }
        return (seed, address, nodes)
    }

    static func root() throws -> String {
        let root = try TemporaryDirectory().path + "-tree"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        return root
    }

    @Test func aRestartedOwnerKnowsReprovidesAndCanRevokeItsContent() async throws {
        let root = try Self.root()
        defer { removeTree(root) }
        // Short DHT lifetimes, so what the first run provided is gone when the second run starts.
        let shortLived: (inout VivimNode.Configuration) -> Void = {
            $0.dht.kademlia.providerTTL = .seconds(3)
            $0.dht.kademlia.recordTTL = .seconds(3)
        }
        let (seed, address, nodes) = try await Self.network(root, count: 4, configure: shortLived)
        var all = [seed] + nodes
        defer { Task { [all] in for n in all { await n.shutdown() } } }
        let key = PeerKeyPair()
        let owner = try await Self.node(root + "/owner", identity: key, type: .edge, bootstrap: [address], configure: shortLived)
        let bytes = Self.bundle(1)
        try #require(try await Self.eventually { await owner.dht.routingTableSize >= 3 })
        let hash = try await owner.publish(contentId: "restart-1", bytes: bytes, replicationFactor: 2)
        #expect(try await Self.eventually { await owner.storage.replicas(of: hash).count == 2 })
        let holders = await owner.storage.replicas(of: hash)
        await owner.shutdown()

        let reader = nodes.first { !holders.contains($0.peerID) }!
        let providerKey = ContentHash.providerKey(contentID: "restart-1")
        // The first run's provider entry of the owner expires.
        #expect(try await Self.eventually(seconds: 10) {
            !((try? await reader.dht.findProviders(providerKey, wanted: 20)) ?? []).contains { $0.id == key.peerID }
        })

        let restarted = try await Self.node(root + "/owner", identity: key, type: .edge, bootstrap: [address], configure: {
            shortLived(&$0)
            $0.dht.kademlia.providerRepublishInterval = .seconds(1)
            $0.dht.kademlia.recordRepublishInterval = .seconds(1)
        })
        all.append(restarted)
        let entry = try #require(await restarted.storage.entry(hash))
        #expect(entry.origin == .own && entry.contentID == "restart-1" && entry.replicationFactor == 2)
        // Provided again under the content id's key (SPEC §8.2), and its signed record put again.
        #expect(try await Self.eventually {
            ((try? await reader.dht.findProviders(providerKey, wanted: 20)) ?? []).contains { $0.id == key.peerID }
        })
        #expect(try await Self.eventually { (try? await reader.record(of: "restart-1"))?.providers.contains { $0.peer == key.peerID } == true })
        #expect(try await reader.fetch(contentId: "restart-1") == bytes)
        // Its replicas are checked (and kept at the factor).
        #expect(try await Self.eventually { await restarted.storage.replicas(of: hash).count == 2 })

        try await restarted.revoke(contentId: "restart-1")
        let holderNodes = nodes.filter { holders.contains($0.peerID) }
        #expect(try await Self.eventually {
            for h in holderNodes where await h.storage.entry(hash) != nil { return false }
            return true
        })
        #expect(await restarted.storage.entry(hash) == nil)
        await #expect(throws: VivimNode.Error.unknownContent("restart-1")) { try await restarted.revoke(contentId: "restart-1") }
        for n in all { await n.shutdown() }
    }

    @Test func theOwnersRevocationRemovesAReadersFetchedCopyAndAForgedOneDoesNot() async throws {
        let root = try Self.root()
        defer { removeTree(root) }
        let (seed, address, nodes) = try await Self.network(root, count: 2)
        let owner = try await Self.node(root + "/owner", type: .edge, bootstrap: [address])
        let reader = try await Self.node(root + "/reader", type: .client, bootstrap: [address], configure: {
            // Only the pubsub notice or the owner's DHT record may remove the copy, not retention.
            $0.storage.storage.revocationCheckInterval = .seconds(2)
        })
        let readerAddress = try #require(await reader.listenAddresses.first)
        let malloryKey = PeerKeyPair()
        let mallory = try await Self.node(root + "/mallory", identity: malloryKey, type: .edge, bootstrap: [address, readerAddress])
        let all = [seed, owner, reader, mallory] + nodes
        defer { Task { for n in all { await n.shutdown() } } }
        try #require(try await Self.eventually { await owner.dht.routingTableSize >= 2 })

        let id = "revocable-1", bytes = Self.bundle(2)
        let hash = try await owner.publish(contentId: id, bytes: bytes, replicationFactor: 1)
        #expect(try await Self.eventually { (try? await reader.fetch(contentId: id)) == bytes })
        let copy = try #require(await reader.storage.entry(hash))
        #expect(copy.origin == .fetched && copy.owner == owner.peerID && copy.contentID == id)

        // Mallory sends revocations: one naming the owner but signed by Mallory, one naming Mallory.
        let topic = Topic.content(id)
        let heard = try await reader.subscribe(topic: topic)
        try #require(try await Self.eventually { await mallory.pubsub.peers(subscribedTo: topic).contains(reader.peerID) })
        let base = ContentRecord(contentID: id, contentType: "application/vivim-bundle+json", bundleHash: hash,
                                 metadata: .init(size: UInt64(bytes.count), createdAt: 1, replicationFactor: 1), owner: owner.peerID)
        var claimed = base.revoked(at: 2)
        try claimed.sign(as: malloryKey, addrs: [], at: 2)
        var own = base.revoked(at: 2)
        own.owner = mallory.peerID
        try own.sign(as: malloryKey, addrs: [], at: 2)
        for forged in [claimed, own] { try await mallory.publish(topic: topic, VivimNode.revocationNotice(forged)) }
        let received = Task { () -> Int in
            var n = 0
            for await m in heard where m.author == mallory.peerID {
                n += 1
                if n == 2 { break }
            }
            return n
        }
        let got = try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask { await received.value }
            group.addTask { try await Task.sleep(for: .seconds(10)); received.cancel(); return -1 }
            let first = try await group.next() ?? -1
            group.cancelAll()
            return first
        }
        #expect(got == 2)
        // Mallory's revoked record in the DHT (its own, valid as a record) does not count either.
        try? await mallory.dht.putValue(own.encoded, for: own.key)
        try await Task.sleep(for: .seconds(3))  // more than one DHT re-check of the copy
        let kept = await reader.storage.entry(hash), tombstoned = await reader.storage.isTombstoned(hash)
        #expect(kept != nil && !tombstoned)

        // The owner revokes: the reader's copy goes, and the reader refuses to fetch it again.
        try await owner.revoke(contentId: id)
        #expect(try await Self.eventually { await reader.storage.entry(hash) == nil })
        #expect(await reader.storage.isTombstoned(hash))
        await #expect(throws: StorageService.Error.revoked(hash)) { _ = try await reader.fetch(hash) }
        await #expect(throws: VivimNode.Error.revoked(id)) { _ = try await reader.fetch(contentId: id) }
        for n in all { await n.shutdown() }
    }

    @Test func aReplicaHoldersTombstoneSurvivesItsRestart() async throws {
        let root = try Self.root()
        defer { removeTree(root) }
        let seed = try await Self.node(root + "/seed", type: .bootstrap)
        let address = try #require(await seed.listenAddresses.first)
        let holderKey = PeerKeyPair(), ownerKey = PeerKeyPair()
        let holder = try await Self.node(root + "/holder", identity: holderKey, bootstrap: [address])
        let owner = try await Self.node(root + "/owner", identity: ownerKey, type: .edge, bootstrap: [address])
        var all = [seed, holder, owner]
        defer { Task { [all] in for n in all { await n.shutdown() } } }
        try #require(try await Self.eventually { await owner.dht.routingTableSize >= 1 })
        let holderAddress = try #require(await holder.listenAddresses.first).withoutPeerID
        let bytes = Self.bundle(3)
        let hash = try await owner.publish(contentId: "tomb-1", bytes: bytes, replicationFactor: 1)
        #expect(try await Self.eventually { await holder.storage.entry(hash)?.origin == .replica(owner: ownerKey.peerID) })
        try await owner.revoke(contentId: "tomb-1")
        #expect(try await Self.eventually { await holder.storage.entry(hash) == nil })
        await owner.shutdown()
        await holder.shutdown()

        // Back on the same port (as a deployed node is), so the peers' routing tables still reach it.
        let restartedHolder = try await Self.node(root + "/holder", identity: holderKey, bootstrap: [address]) { $0.listen = holderAddress }
        try #require(try await Self.eventually { await restartedHolder.dht.routingTableSize >= 1 })
        all.append(restartedHolder)
        #expect(await restartedHolder.storage.tombstone(hash, owner: ownerKey.peerID) != nil)
        // The owner, reinstalled without its own records, publishes the bundle again: the holder refuses it.
        let reinstalled = try await Self.node(root + "/owner-again", identity: ownerKey, type: .edge, bootstrap: [address])
        all.append(reinstalled)
        // The holder is reachable and stores replicas of this owner's other content…
        let other = try await reinstalled.publish(contentId: "tomb-2", bytes: Self.bundle(6), replicationFactor: 1)
        #expect(try await Self.eventually { await restartedHolder.storage.entry(other)?.origin == .replica(owner: ownerKey.peerID) })
        // …but not of the revoked one.
        _ = try await reinstalled.publish(contentId: "tomb-1", bytes: bytes, replicationFactor: 1)
        #expect(try await Self.eventually { await reinstalled.storage.entry(hash)?.refused.contains(holderKey.peerID) == true })
        #expect(await restartedHolder.storage.entry(hash) == nil)
        for n in all { await n.shutdown() }
    }

    @Test func aDamagedIndexIsRebuiltFromTheFilesPresent() async throws {
        let root = try Self.root()
        defer { removeTree(root) }
        let key = PeerKeyPair()
        let first = try await Self.node(root + "/n", identity: key)
        let a = Self.bundle(4), b = Self.bundle(5)
        let ha = try await first.publish(contentId: "damaged-a", bytes: a, replicationFactor: 0)
        let hb = try await first.publish(contentId: "damaged-b", bytes: b, replicationFactor: 0)
        await first.shutdown()
        let indexPath = root + "/n/" + ContentStore.indexName
        let intact = try [UInt8](Data(contentsOf: URL(fileURLWithPath: indexPath)))
        #expect(StorageIndex.decode(intact).index.items.count == 2)

        // A torn last record: the first entry survives as it was, the other file is adopted.
        try Data(intact.dropLast(5)).write(to: URL(fileURLWithPath: indexPath))
        let torn = try await Self.node(root + "/n", identity: key)
        let origins = [await torn.storage.entry(ha)?.origin, await torn.storage.entry(hb)?.origin]
        #expect(origins.contains(.own) && origins.contains(.cached), "\(origins)")
        let (fa, fb) = (try await torn.fetch(ha), try await torn.fetch(hb))
        #expect(fa == a && fb == b)
        await torn.shutdown()

        // Garbage: every file is adopted; the node starts and serves them.
        try Data((0..<300).map { UInt8(truncatingIfNeeded: $0 &* 97) }).write(to: URL(fileURLWithPath: indexPath))
        let garbage = try await Self.node(root + "/n", identity: key)
        let (ea, eb) = (await garbage.storage.entry(ha), await garbage.storage.entry(hb))
        #expect(ea != nil && eb != nil)
        #expect(await garbage.status().contentCount == 2)
        #expect(try await garbage.fetch(hb) == b)
        await garbage.shutdown()
        // The index written on shutdown is whole again.
        let rewritten = try [UInt8](Data(contentsOf: URL(fileURLWithPath: indexPath)))
        #expect(!StorageIndex.decode(rewritten).damaged && StorageIndex.decode(rewritten).index.items.count == 2)
    }
}

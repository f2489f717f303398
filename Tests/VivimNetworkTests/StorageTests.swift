import Testing
@testable import VivimNetwork

@Suite struct StorageManagerTests {
    static let t0 = NetworkInstant.zero
    static func hash(_ n: UInt8) -> ContentHash { ContentHash(of: [n]) }

    @Test func ownContentIsAnnouncedAndReplicatedToTheFactor() {
        var m = StorageManager(localPeer: PeerKeyPair().peerID)
        let h = Self.hash(1)
        let actions = m.stored(h, size: 10, origin: .own, now: Self.t0)
        #expect(actions.contains(.announce(h)))
        #expect(actions.contains(.findTargets(h, count: 5)))
        let peers = (0..<6).map { _ in PeerKeyPair().peerID }
        let replicate = m.targetsFound(h, candidates: [m.localPeer] + peers, now: Self.t0)
        #expect(replicate == peers.prefix(3).map { .replicate(h, to: $0, expiresAt: nil) })
        for p in peers.prefix(3) { m.replicationSucceeded(h, at: p, now: Self.t0) }
        #expect(m.entries[h]?.replicas == Set(peers.prefix(3)))
        #expect(m.targetsFound(h, candidates: peers, now: Self.t0).isEmpty)
    }

    @Test func aLostReplicaTriggersRepairToAnotherPeer() {
        var m = StorageManager(localPeer: PeerKeyPair().peerID)
        let h = Self.hash(2)
        _ = m.stored(h, size: 10, origin: .own, now: Self.t0)
        let peers = (0..<5).map { _ in PeerKeyPair().peerID }
        _ = m.targetsFound(h, candidates: peers, now: Self.t0)
        for p in peers.prefix(3) { m.replicationSucceeded(h, at: p, now: Self.t0) }
        let repair = m.replicaLost(h, at: peers[0], now: Self.t0)
        #expect(repair.count == 1)
        let next = m.targetsFound(h, candidates: peers, now: Self.t0)
        #expect(next == [.replicate(h, to: peers[3], expiresAt: nil)])  // never the lost one again
    }

    @Test func periodicallyVerifiesReplicas() {
        var config = StorageManager.Configuration()
        config.repairInterval = .seconds(60)
        var m = StorageManager(localPeer: PeerKeyPair().peerID, configuration: config)
        let h = Self.hash(3)
        _ = m.stored(h, size: 10, origin: .own, replicationFactor: 1, now: Self.t0)
        let p = PeerKeyPair().peerID
        _ = m.targetsFound(h, candidates: [p], now: Self.t0)
        m.replicationSucceeded(h, at: p, now: Self.t0)
        #expect(m.tick(now: Self.t0 + .seconds(30)).isEmpty)
        #expect(m.tick(now: Self.t0 + .seconds(61)) == [.verifyReplica(h, at: p)])
    }

    @Test func onlyTheOwnerMayDeleteAReplicaAndDeletionsAreRecorded() {
        var m = StorageManager(localPeer: PeerKeyPair().peerID)
        let owner = PeerKeyPair().peerID, stranger = PeerKeyPair().peerID
        let h = Self.hash(4)
        _ = m.stored(h, size: 10, origin: .replica(owner: owner), now: Self.t0)
        #expect(m.deletionRequested(h, by: stranger, now: Self.t0).isEmpty)
        #expect(m.deletionRequested(h, by: owner, now: Self.t0) == [.deleteLocal(h)])
        #expect(m.deletions.map(\.reason) == [.ownerRequest])
    }

    @Test func revokeAndExpiryDeleteEverywhere() {
        var m = StorageManager(localPeer: PeerKeyPair().peerID)
        let h = Self.hash(5), e = Self.hash(6)
        _ = m.stored(h, size: 10, origin: .own, now: Self.t0)
        let peers = (0..<3).map { _ in PeerKeyPair().peerID }
        _ = m.targetsFound(h, candidates: peers, now: Self.t0)
        for p in peers { m.replicationSucceeded(h, at: p, now: Self.t0) }
        let revoke = m.revoke(h, now: Self.t0)
        #expect(revoke.first == .deleteLocal(h))
        #expect(Set(revoke.dropFirst()) == Set(peers.map { .requestDeletion(h, at: $0) }))
        _ = m.stored(e, size: 10, origin: .own, replicationFactor: 0, expiresAt: Self.t0 + .seconds(5), now: Self.t0)
        #expect(m.tick(now: Self.t0 + .seconds(6)).contains(.deleteLocal(e)))
        #expect(m.deletions.map(\.reason) == [.revoked, .expired])
        #expect(m.deletions[0].notified.count == 3)
    }

    @Test func evictsLeastRecentlyUsedCacheButNeverOwnOrPinned() {
        var config = StorageManager.Configuration()
        config.warmCapacity = 25
        var m = StorageManager(localPeer: PeerKeyPair().peerID, configuration: config)
        let a = Self.hash(7), b = Self.hash(8), c = Self.hash(9)
        _ = m.stored(a, size: 10, origin: .cached, now: Self.t0)
        _ = m.stored(b, size: 10, origin: .cached, now: Self.t0 + .seconds(1))
        m.accessed(a, now: Self.t0 + .seconds(2))
        let actions = m.stored(c, size: 10, origin: .cached, now: Self.t0 + .seconds(3))
        #expect(actions.contains(.deleteLocal(b)))  // b is the least recently used
        #expect(m.entries[a] != nil && m.entries[c] != nil)
        m.pin(a)
        #expect(m.entries[a]?.tier == .hot)
    }

    @Test func fetchedContentIsDroppedAfterTheHotRetention() {
        var config = StorageManager.Configuration()
        config.hotRetention = .seconds(100)
        var m = StorageManager(localPeer: PeerKeyPair().peerID, configuration: config)
        let h = Self.hash(10)
        _ = m.stored(h, size: 10, origin: .fetched, now: Self.t0)
        #expect(m.tick(now: Self.t0 + .seconds(50)).isEmpty)
        #expect(m.tick(now: Self.t0 + .seconds(101)) == [.deleteLocal(h)])
    }
    @Test func revocationIsAcknowledgedByEveryHolderAndRetriedWithBackoff() {
        var config = StorageManager.Configuration()
        config.deletionRetryDelay = .seconds(1)
        config.maxDeletionAttempts = 3
        var m = StorageManager(localPeer: PeerKeyPair().peerID, configuration: config)
        let h = Self.hash(11)
        _ = m.stored(h, size: 10, origin: .own, now: Self.t0)
        let peers = (0..<3).map { _ in PeerKeyPair().peerID }
        _ = m.targetsFound(h, candidates: peers, now: Self.t0)
        for p in peers { m.replicationSucceeded(h, at: p, now: Self.t0) }
        _ = m.revoke(h, now: Self.t0)
        m.deletionAcknowledged(h, by: peers[0])
        m.deletionFailed(h, at: peers[1], now: Self.t0)
        m.deletionAcknowledged(h, by: peers[2])
        #expect(m.tick(now: Self.t0 + .milliseconds(500)).isEmpty)  // not due yet
        #expect(m.tick(now: Self.t0 + .seconds(1)) == [.requestDeletion(h, at: peers[1])])
        m.deletionFailed(h, at: peers[1], now: Self.t0 + .seconds(1))
        #expect(m.tick(now: Self.t0 + .milliseconds(2500)).isEmpty)  // backoff doubled: due at 3 s
        #expect(m.tick(now: Self.t0 + .seconds(3)) == [.requestDeletion(h, at: peers[1])])
        m.deletionFailed(h, at: peers[1], now: Self.t0 + .seconds(3))  // third attempt: give up, recorded
        #expect(m.tombstones[.init(hash: h, owner: m.localPeer)]?.abandoned == [peers[1]])
        #expect(m.tick(now: Self.t0 + .seconds(100)).isEmpty)
    }

    @Test func aReplicaConfirmedAfterRevocationIsAskedToDelete() {
        var m = StorageManager(localPeer: PeerKeyPair().peerID)
        let h = Self.hash(12)
        _ = m.stored(h, size: 10, origin: .own, replicationFactor: 2, now: Self.t0)
        let peers = (0..<2).map { _ in PeerKeyPair().peerID }
        _ = m.targetsFound(h, candidates: peers, now: Self.t0)
        m.replicationSucceeded(h, at: peers[0], now: Self.t0)
        let revoke = m.revoke(h, now: Self.t0)  // peers[1] is still replicating
        #expect(Set(revoke) == [.deleteLocal(h), .requestDeletion(h, at: peers[0]), .requestDeletion(h, at: peers[1])])
        m.deletionAcknowledged(h, by: peers[1])  // acknowledged before its fetch finished…
        // …and its replication answer arrives late: it is asked again.
        #expect(m.replicationSucceeded(h, at: peers[1], now: Self.t0) == [.requestDeletion(h, at: peers[1])])
        #expect(m.isRevoked(h))
    }

    @Test func aPeerThoughtLostIsStillAskedToDeleteOnRevocation() {
        var m = StorageManager(localPeer: PeerKeyPair().peerID)
        let h = Self.hash(13)
        _ = m.stored(h, size: 10, origin: .own, now: Self.t0)
        let peers = (0..<4).map { _ in PeerKeyPair().peerID }
        _ = m.targetsFound(h, candidates: peers, now: Self.t0)
        for p in peers.prefix(3) { m.replicationSucceeded(h, at: p, now: Self.t0) }
        _ = m.replicaLost(h, at: peers[0], now: Self.t0)  // a failed check, perhaps only a slow peer
        _ = m.targetsFound(h, candidates: peers, now: Self.t0)
        m.replicationSucceeded(h, at: peers[3], now: Self.t0)
        let revoke = m.revoke(h, now: Self.t0)
        #expect(Set(revoke.dropFirst()) == Set(peers.map { .requestDeletion(h, at: $0) }))
    }

    @Test func aHolderRefusesToReplicateAgainWhatItsOwnerDeleted() {
        var m = StorageManager(localPeer: PeerKeyPair().peerID)
        let owner = PeerKeyPair().peerID, other = PeerKeyPair().peerID
        let h = Self.hash(14)
        #expect(m.replicaRequested(h, size: 10, from: owner) == .fetch)
        // The owner's deletion overtakes the replica still being fetched.
        #expect(m.deletionRequested(h, by: owner, now: Self.t0).isEmpty)
        #expect(m.stored(h, size: 10, origin: .replica(owner: owner), now: Self.t0) == [.deleteLocal(h)])
        #expect(m.entries[h] == nil)
        #expect(m.replicaRequested(h, size: 10, from: owner) == .refuse)
        #expect(m.replicaRequested(h, size: 10, from: other) == .fetch)  // a tombstone binds one owner only
    }

    @Test func aFetchedCopyBecomesTheOwnersReplicaSoRevocationReachesIt() {
        var m = StorageManager(localPeer: PeerKeyPair().peerID)
        let owner = PeerKeyPair().peerID
        let h = Self.hash(15)
        _ = m.stored(h, size: 10, origin: .fetched, now: Self.t0)
        #expect(m.replicaRequested(h, size: 10, from: owner) == .alreadyHeld)
        #expect(m.deletionRequested(h, by: owner, now: Self.t0) == [.deleteLocal(h)])
    }
}

@Suite(.timeLimit(.minutes(1))) struct StorageServiceSocketTests {
    final class Node: Sendable {
        let host: P2PHost
        let dht: DHTService
        let storage: StorageService
        let address: Multiaddr
        let directory: TemporaryDirectory

        init() async throws {
            host = P2PHost(identity: PeerKeyPair())
            address = try await host.listen()
            directory = try TemporaryDirectory()
            var dhtConfig = DHTService.Configuration()
            dhtConfig.kademlia.requestTimeout = .seconds(2)
            dht = DHTService(host: host, configuration: dhtConfig)
            var config = StorageService.Configuration()
            config.tickInterval = .seconds(3600)  // the test drives the timers
            config.storage.repairInterval = .zero
            storage = StorageService(host: host, dht: dht, store: try ContentStore(directory: directory.path), configuration: config)
            await dht.start()
            await storage.start()
        }
    }

    /// Polls `condition` every 25 ms for at most `seconds` (bounded in count and time).
    static func waitUntil(seconds: Int = 5, _ condition: @Sendable () async -> Bool) async throws {
        for _ in 0..<(seconds * 40) where !(await condition()) { try await Task.sleep(for: .milliseconds(25)) }
    }

    @Test func replicatesToThreePeersRepairsAfterALossAndRevokesEverywhere() async throws {
        var nodes: [Node] = []
        for _ in 0..<7 { nodes.append(try await Node()) }
        for n in nodes.dropFirst() {
            await n.dht.addPeer(nodes[0].host.peerID, addrs: [nodes[0].address])
            _ = try await n.dht.findNode(n.host.peerID.bytes)
        }
        let owner = nodes[1]
        let bundle = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let hash = try await owner.storage.publish(bundle)
        try await Self.waitUntil { await owner.storage.replicas(of: hash).count == 3 }
        let first = await owner.storage.replicas(of: hash)
        #expect(first.count == 3)
        let holders = nodes.filter { first.contains($0.host.peerID) }
        for h in holders { #expect(await h.storage.entry(hash)?.origin == .replica(owner: owner.host.peerID)) }

        // A replica holder dies; the next check finds it gone and repairs back to 3.
        let victim = holders[0]
        await victim.storage.stop()
        await victim.dht.stop()
        await victim.host.shutdown()
        // Replica checks are periodic: the first may run before the loss is visible, so
        // tick the way the scheduler would until the repair lands (a loaded CI machine
        // needs more than a few seconds to notice a dead peer).
        try await Self.waitUntil(seconds: 20) {
            await owner.storage.tick()
            let r = await owner.storage.replicas(of: hash)
            return r.count == 3 && !r.contains(victim.host.peerID)
        }
        let repaired = await owner.storage.replicas(of: hash)
        #expect(repaired.count == 3 && !repaired.contains(victim.host.peerID))

        // Another node gets the bundle through the DHT, hash-verified.
        let reader = nodes.first { !repaired.contains($0.host.peerID) && $0 !== owner && $0 !== victim }!
        #expect(try await reader.storage.get(hash) == bundle)

        // Revocation deletes the replicas network-wide and is recorded.
        await owner.storage.revoke(hash)
        let survivors = nodes.filter { repaired.contains($0.host.peerID) }
        // Deletion requests are acknowledged and retried (the test drives the timers), so a
        // request lost under load is sent again; every peer ever asked to replicate is asked.
        try await Self.waitUntil(seconds: 20) {
            await owner.storage.tick()
            for s in survivors where await s.storage.entry(hash) != nil { return false }
            return true
        }
        for s in survivors { #expect(await s.storage.entry(hash) == nil) }
        #expect(await owner.storage.deletions.last?.reason == .revoked)
        // The holders keep a tombstone: the revoked id cannot come back through a late replicate.
        for s in survivors { #expect(await s.storage.tombstone(hash, owner: owner.host.peerID) != nil) }
        await #expect(throws: StorageService.Error.revoked(hash)) { try await owner.storage.publish(bundle) }
        for n in nodes where n !== victim { await n.storage.stop(); await n.dht.stop(); await n.host.shutdown() }
    }
}

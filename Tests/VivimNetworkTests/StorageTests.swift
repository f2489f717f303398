import Synchronization
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
        let owner = PeerKeyPair(), other = PeerKeyPair()
        let h = Self.hash(14)
        #expect(m.replicaRequested(replicateRequest(h, size: 10, owner: owner), from: owner.peerID, now: Self.t0, unixNow: 1) == .fetch)
        // The owner's deletion overtakes the replica still being fetched.
        #expect(m.deletionRequested(h, by: owner.peerID, now: Self.t0).isEmpty)
        #expect(m.replicaFetched(h, from: owner.peerID, size: 10, now: Self.t0) == [.deleteLocal(h)])
        #expect(m.entries[h] == nil)
        #expect(m.replicaRequested(replicateRequest(h, size: 10, owner: owner), from: owner.peerID, now: Self.t0, unixNow: 1) == .refuse(.tombstoned))
        // A tombstone binds one owner only.
        #expect(m.replicaRequested(replicateRequest(h, size: 10, owner: other), from: other.peerID, now: Self.t0, unixNow: 1) == .fetch)
    }

    @Test func aCopyFetchedUnderItsOwnerBecomesThatOwnersReplicaSoRevocationReachesIt() {
        var m = StorageManager(localPeer: PeerKeyPair().peerID)
        let owner = PeerKeyPair()
        let h = Self.hash(15)
        _ = m.stored(h, size: 10, origin: .fetched, contentID: "c", owner: owner.peerID, now: Self.t0)
        #expect(m.replicaRequested(replicateRequest(h, size: 10, owner: owner), from: owner.peerID, now: Self.t0, unixNow: 1) == .alreadyHeld)
        #expect(m.entries[h]?.origin == .replica(owner: owner.peerID) && m.entries[h]?.tier == .cold)
        #expect(m.replicaUsage(of: owner.peerID).bytes == 10 && m.replicaUsage(of: owner.peerID).count == 1)
        #expect(m.deletionRequested(h, by: owner.peerID, now: Self.t0) == [.deleteLocal(h)])
        #expect(m.replicaUsage(of: owner.peerID).count == 0)
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
        for _ in 0..<(seconds * 40) {
            if await condition() { return }  // stop at once: the condition may have side effects (ticks)
            try await Task.sleep(for: .milliseconds(25))
        }
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
        // The set is taken when the condition holds: with a check on every tick a slow answer may
        // count as a loss a moment later (by design: a false alarm costs one extra replica).
        let seen = Mutex<Set<PeerID>>([])
        try await Self.waitUntil(seconds: 20) {
            await owner.storage.tick()
            let r = await owner.storage.replicas(of: hash)
            seen.withLock { $0 = r }
            return r.count == 3 && !r.contains(victim.host.peerID)
        }
        let repaired = seen.withLock { $0 }
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

/// The storage index (what survives a restart) and revocation of fetched copies, without I/O.
@Suite struct StorageRestartTests {
    static let t0 = NetworkInstant(nanoseconds: 1_000_000_000_000)
    static let unix0: UInt64 = 1_800_000_000
    static func hash(_ n: UInt8) -> ContentHash { ContentHash(of: [n, 0xAA]) }

    /// A manager holding own content with replicas, a fetched copy, a replica and a revocation in flight.
    static func populated() -> (StorageManager, owner: PeerID, replicas: [PeerID]) {
        var m = StorageManager(localPeer: PeerKeyPair().peerID)
        let owner = PeerKeyPair().peerID, replicas = (0..<3).map { _ in PeerKeyPair().peerID }
        _ = m.stored(hash(1), size: 10, origin: .own, replicationFactor: 2, contentID: "mine",
                     record: .init(contentType: "t", createdAt: unix0 - 60, topics: ["user:did:key:z"]), now: t0)
        _ = m.targetsFound(hash(1), candidates: replicas, now: t0)
        m.replicationSucceeded(hash(1), at: replicas[0], now: t0)
        _ = m.replicationFailed(hash(1), at: replicas[1], now: t0)
        _ = m.stored(hash(2), size: 20, origin: .fetched, contentID: "theirs", owner: owner, now: t0)
        _ = m.stored(hash(3), size: 30, origin: .replica(owner: owner), expiresAt: t0 + .seconds(3600), now: t0)
        _ = m.stored(hash(4), size: 40, origin: .own, replicationFactor: 1, now: t0)
        _ = m.targetsFound(hash(4), candidates: [replicas[2]], now: t0)
        m.replicationSucceeded(hash(4), at: replicas[2], now: t0)
        _ = m.revoke(hash(4), now: t0)  // replicas[2] has not acknowledged yet
        return (m, owner, replicas)
    }

    @Test func theIndexRoundTripsThroughItsFileForm() {
        let (m, _, _) = Self.populated()
        let index = m.snapshot(now: Self.t0, unixNow: Self.unix0)
        let decoded = StorageIndex.decode(index.encoded)
        #expect(!decoded.damaged)
        #expect(decoded.records == 4)
        #expect(decoded.index == index)
        #expect(index.items.first { $0.hash == Self.hash(3) }?.expiresAt == Self.unix0 + 3600)
    }

    @Test func aRestartRestoresEntriesTombstonesAndReannouncesEverything() throws {
        let (m, owner, replicas) = Self.populated()
        let index = StorageIndex.decode(m.snapshot(now: Self.t0, unixNow: Self.unix0).encoded).index
        // A new process: another monotonic clock, ten minutes later on the wall clock.
        let later = NetworkInstant(nanoseconds: 5_000_000_000_000)
        var r = StorageManager(localPeer: m.localPeer)
        let files = [Self.hash(1): 10, Self.hash(2): 20, Self.hash(3): 30]
        let outcome = r.restore(index, files: files, now: later, unixNow: Self.unix0 + 600)
        #expect(outcome.restored == 3 && outcome.adopted.isEmpty && outcome.dropped.isEmpty)
        #expect(r.entries[Self.hash(1)]?.contentID == "mine")
        #expect(r.entries[Self.hash(1)]?.record?.topics == ["user:did:key:z"])
        #expect(r.entries[Self.hash(2)]?.owner == owner && r.entries[Self.hash(2)]?.origin == .fetched)
        #expect(r.entries[Self.hash(3)]?.origin == .replica(owner: owner))
        #expect(r.entries[Self.hash(3)]?.expiresAt == later + .seconds(3000))
        // Everything held is provided again; the replica of own content is checked.
        for h in files.keys { #expect(outcome.actions.contains(.announce(h))) }
        #expect(outcome.actions.contains(.verifyReplica(Self.hash(1), at: replicas[0])))
        #expect(r.entries[Self.hash(1)]?.refused.contains(replicas[1]) == true)
        // The revocation still refuses publishing again, and its unacknowledged deletion is retried at once.
        #expect(r.isRevoked(Self.hash(4)))
        #expect(r.tick(now: later).contains(.requestDeletion(Self.hash(4), at: replicas[2])))
    }

    @Test func reconcilingDropsEntriesWithoutFilesAdoptsUnknownFilesAndDeletesExpiredContent() {
        let (m, _, replicas) = Self.populated()
        let index = m.snapshot(now: Self.t0, unixNow: Self.unix0)
        var r = StorageManager(localPeer: m.localPeer)
        let stray = Self.hash(9)
        // Two hours later: the replica (expiring after one) is gone; hash 2's file is missing.
        let outcome = r.restore(index, files: [Self.hash(1): 10, Self.hash(3): 30, stray: 5, Self.hash(4): 40],
                                now: Self.t0, unixNow: Self.unix0 + 7200)
        #expect(outcome.dropped == [Self.hash(2)])
        #expect(outcome.adopted == [stray])
        #expect(r.entries[stray]?.origin == .cached && r.entries[stray]?.tier == .warm)
        #expect(outcome.expired == [Self.hash(3)] && r.entries[Self.hash(3)] == nil)
        #expect(outcome.actions.contains(.deleteLocal(Self.hash(3))))
        // A file of content revoked here is not adopted back.
        #expect(outcome.refused == [Self.hash(4)] && r.entries[Self.hash(4)] == nil)
        #expect(outcome.actions.contains(.deleteLocal(Self.hash(4))))
        #expect(!outcome.actions.contains(.verifyReplica(Self.hash(4), at: replicas[2])))
    }

    @Test func ownExpiredContentAsksItsHoldersToDeleteOnLoad() {
        var m = StorageManager(localPeer: PeerKeyPair().peerID)
        let holder = PeerKeyPair().peerID, h = Self.hash(5)
        _ = m.stored(h, size: 1, origin: .own, replicationFactor: 1, expiresAt: Self.t0 + .seconds(10), now: Self.t0)
        _ = m.targetsFound(h, candidates: [holder], now: Self.t0)
        m.replicationSucceeded(h, at: holder, now: Self.t0)
        var r = StorageManager(localPeer: m.localPeer)
        let outcome = r.restore(m.snapshot(now: Self.t0, unixNow: Self.unix0), files: [h: 1], now: Self.t0, unixNow: Self.unix0 + 60)
        #expect(Set(outcome.actions) == [.deleteLocal(h), .requestDeletion(h, at: holder)])
        #expect(r.isRevoked(h))
    }

    @Test func aTornOrCorruptIndexKeepsTheRecordsBeforeTheDamage() {
        let (m, _, _) = Self.populated()
        let bytes = m.snapshot(now: Self.t0, unixNow: Self.unix0).encoded
        let torn = StorageIndex.decode(Array(bytes.dropLast(3)))
        #expect(torn.damaged && torn.records == 3)
        var flipped = bytes
        flipped[flipped.count - 10] ^= 0x40
        let corrupt = StorageIndex.decode(flipped)
        #expect(corrupt.damaged && corrupt.records == 3)
        #expect(StorageIndex.decode([]) == .init(index: .init(), records: 0, damaged: false))
        #expect(StorageIndex.decode(Array("garbage".utf8)).damaged)
    }

    @Test func theIndexDecoderNeverTraps() {
        var rng = TestRNG(seed: 77)
        let bytes = Self.populated().0.snapshot(now: Self.t0, unixNow: Self.unix0).encoded
        for _ in 0..<3000 {
            var m = bytes
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                m[Int.random(in: StorageIndex.magic.count..<m.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            _ = StorageIndex.decode(m)
            _ = StorageIndex.decode(Array(m.prefix(Int.random(in: 0..<m.count, using: &rng))))
        }
    }

    @Test func onlyTheOwnersRevocationDeletesAFetchedCopyAndTombstonesIt() {
        var m = StorageManager(localPeer: PeerKeyPair().peerID)
        let ownerKey = PeerKeyPair(), owner = ownerKey.peerID, mallory = PeerKeyPair().peerID, h = Self.hash(6)
        _ = m.stored(h, size: 10, origin: .fetched, contentID: "c", owner: owner, now: Self.t0)
        #expect(m.revocationSeen(h, by: mallory, now: Self.t0).isEmpty)
        #expect(m.entries[h] != nil && !m.isTombstoned(h))
        #expect(m.revocationSeen(h, by: owner, now: Self.t0) == [.deleteLocal(h)])
        #expect(m.entries[h] == nil && m.isTombstoned(h))
        // A fetch that was already on its way is dropped, and the owner cannot place it as a replica.
        #expect(m.stored(h, size: 10, origin: .fetched, now: Self.t0) == [.deleteLocal(h)])
        #expect(m.replicaRequested(replicateRequest(h, size: 10, owner: ownerKey), from: owner, now: Self.t0, unixNow: 1) == .refuse(.tombstoned))
    }

    @Test func aCopyWithoutAKnownOwnerIsNotRevokedByAnyone() {
        var m = StorageManager(localPeer: PeerKeyPair().peerID)
        let h = Self.hash(7)
        _ = m.stored(h, size: 10, origin: .fetched, now: Self.t0)
        #expect(m.revocationSeen(h, by: PeerKeyPair().peerID, now: Self.t0).isEmpty)
        _ = m.stored(Self.hash(8), size: 10, origin: .own, now: Self.t0)
        #expect(m.revocationSeen(Self.hash(8), by: PeerKeyPair().peerID, now: Self.t0).isEmpty)
    }

    @Test func fetchedCopiesAreCheckedForRevocationPeriodicallyAndBoundedPerTick() {
        var config = StorageManager.Configuration()
        config.revocationCheckInterval = .seconds(60)
        config.maxRevocationChecksPerTick = 2
        var m = StorageManager(localPeer: PeerKeyPair().peerID, configuration: config)
        let owner = PeerKeyPair().peerID
        for n in 0..<3 { _ = m.stored(Self.hash(UInt8(20 + n)), size: 1, origin: .fetched, contentID: "c\(n)", owner: owner, now: Self.t0) }
        _ = m.stored(Self.hash(30), size: 1, origin: .fetched, now: Self.t0)  // no owner known: nothing to check
        #expect(m.tick(now: Self.t0 + .seconds(30)).isEmpty)
        let first = m.tick(now: Self.t0 + .seconds(61))
        #expect(first.count == 2)
        let second = m.tick(now: Self.t0 + .seconds(62))
        #expect(second.count == 1)
        let all = Set(first + second)
        #expect(all == Set((0..<3).map { StorageManager.Action.checkRevocation(Self.hash(UInt8(20 + $0)), contentID: "c\($0)", owner: owner) }))
        #expect(m.tick(now: Self.t0 + .seconds(63)).isEmpty)
    }
}

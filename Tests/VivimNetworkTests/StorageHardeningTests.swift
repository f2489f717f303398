import Crypto
import Foundation
import Synchronization
import Testing
@testable import VivimNetwork

/// A REPLICATE of `hash` (`size` bytes) carrying a record signed by `owner` naming itself as owner.
func replicateRequest(_ hash: ContentHash, size: UInt64, owner: PeerKeyPair, contentID: String = "content",
                      expiresIn: UInt64? = nil, signer: PeerKeyPair? = nil, status: ContentRecord.Status = .active,
                      recordExpiresAt: UInt64? = nil) -> ReplicationProtocol.Request {
    var record = ContentRecord(contentID: contentID, contentType: "application/vivim-bundle+json", bundleHash: hash,
                               metadata: .init(size: size, createdAt: 1, expiresAt: recordExpiresAt, replicationFactor: 1),
                               owner: owner.peerID, status: status)
    try? record.sign(as: signer ?? owner, addrs: [], at: 1)
    return ReplicationProtocol.Request(kind: .replicate, hash: hash, size: size, expiresIn: expiresIn, record: record)
}

/// Security review findings 1 and 6 and issue 11's storage rules, on the Sans-IO manager: a
/// REPLICATE needs a record signed by the requesting owner, its expiry is clamped, an entry's
/// owner never changes, a DELETE binds only the sender's own replica, tombstones cannot be
/// flooded out, and the cold tier is shared fairly between owners.
@Suite struct StorageHardeningTests {
    static let t0 = NetworkInstant(nanoseconds: 1_000_000_000_000)
    static func hash(_ n: Int) -> ContentHash { ContentHash(of: Array("hardening-\(n)".utf8)) }

    /// Asks for and stores a replica of `hash` for `owner` (the request, then the fetch reported).
    static func place(_ m: inout StorageManager, _ hash: ContentHash, size: Int = 10, owner: PeerKeyPair,
                      expiresIn: UInt64? = nil, now: NetworkInstant = t0) -> StorageManager.ReplicaDecision {
        let decision = m.replicaRequested(replicateRequest(hash, size: UInt64(size), owner: owner, expiresIn: expiresIn),
                                          from: owner.peerID, now: now, unixNow: 1_800_000_000)
        if decision == .fetch { _ = m.replicaFetched(hash, from: owner.peerID, size: size, now: now) }
        return decision
    }

    // MARK: finding 1

    @Test func aReplicasExpiryIsClampedToTheMaximumLifetime() throws {
        var config = StorageManager.Configuration()
        config.maxReplicaLifetime = .seconds(10 * 365 * 24 * 3600)
        var m = StorageManager(localPeer: PeerKeyPair().peerID, configuration: config)
        let owner = PeerKeyPair()
        for (i, expiresIn) in ([1 << 40] + extremeWireValues).enumerated() {
            #expect(Self.place(&m, Self.hash(i), owner: owner, expiresIn: expiresIn) == .fetch)
            let expiry = try #require(m.entries[Self.hash(i)]?.expiresAt)
            let expected = Self.t0 + .seconds(Int64(min(expiresIn, 10 * 365 * 24 * 3600)))
            #expect(expiry == expected)
        }
        // 2^40 s (the finding's value) became ten years, not 34,000.
        #expect(m.entries[Self.hash(0)]?.expiresAt == Self.t0 + config.maxReplicaLifetime)
    }

    // MARK: finding 6a

    @Test func aDeleteForAHashNotHeldNeitherCensorsItNorLeavesATombstone() {
        var m = StorageManager(localPeer: PeerKeyPair().peerID)
        let attacker = PeerKeyPair().peerID, owner = PeerKeyPair(), h = Self.hash(1), held = Self.hash(2)
        #expect(m.deletionRequested(h, by: attacker, now: Self.t0).isEmpty)
        #expect(!m.isTombstoned(h) && m.tombstones.isEmpty)
        // The hash can still be fetched, kept and replicated for its owner.
        #expect(m.stored(h, size: 1, origin: .fetched, contentID: "c", owner: owner.peerID, now: Self.t0).contains(.announce(h)))
        #expect(m.entries[h] != nil)
        // A DELETE for another owner's replica changes nothing either.
        #expect(Self.place(&m, held, owner: owner) == .fetch)
        #expect(m.deletionRequested(held, by: attacker, now: Self.t0).isEmpty)
        #expect(m.entries[held]?.origin == .replica(owner: owner.peerID) && m.tombstones.isEmpty)
    }

    // MARK: finding 6b

    @Test func aReplicateNeverTakesOverACopyHeldUnderAnotherOwner() {
        var m = StorageManager(localPeer: PeerKeyPair().peerID)
        let owner = PeerKeyPair(), attacker = PeerKeyPair()
        let fetched = Self.hash(1), theirs = Self.hash(2), mine = Self.hash(3), anonymous = Self.hash(4)
        _ = m.stored(fetched, size: 1, origin: .fetched, contentID: "c", owner: owner.peerID, now: Self.t0)
        _ = m.stored(anonymous, size: 1, origin: .cached, now: Self.t0)
        _ = m.stored(mine, size: 1, origin: .own, now: Self.t0)
        #expect(Self.place(&m, theirs, size: 1, owner: owner) == .fetch)
        // The attacker signs a record of its own for each hash: refused, the owners stay.
        for h in [fetched, theirs, mine, anonymous] {
            #expect(Self.place(&m, h, size: 1, owner: attacker) == .refuse(.heldForAnother))
        }
        #expect(m.entries[fetched]?.origin == .fetched && m.entries[fetched]?.owner == owner.peerID)
        #expect(m.entries[theirs]?.origin == .replica(owner: owner.peerID))
        #expect(m.entries[mine]?.origin == .own && m.entries[anonymous]?.origin == .cached)
        // Nor can it delete them; the owner's signed revocation still reaches its copies.
        for h in [fetched, theirs] { #expect(m.deletionRequested(h, by: attacker.peerID, now: Self.t0).isEmpty) }
        #expect(m.revocationSeen(fetched, by: owner.peerID, now: Self.t0) == [.deleteLocal(fetched)])
        #expect(m.revocationSeen(theirs, by: owner.peerID, now: Self.t0) == [.deleteLocal(theirs)])
        #expect(m.replicaUsage(of: attacker.peerID).count == 0)
    }

    @Test func aFetchLandingOnAReplicaKeepsTheReplicaAndItsOwner() {
        var m = StorageManager(localPeer: PeerKeyPair().peerID)
        let owner = PeerKeyPair(), h = Self.hash(1)
        #expect(Self.place(&m, h, owner: owner) == .fetch)
        #expect(m.stored(h, size: 10, origin: .fetched, now: Self.t0).isEmpty)
        #expect(m.entries[h]?.origin == .replica(owner: owner.peerID))
    }

    // MARK: authorization (issue 11)

    @Test func aReplicateNeedsAnActiveRecordOfThatBundleSignedByTheRequestingOwner() {
        var m = StorageManager(localPeer: PeerKeyPair().peerID)
        let owner = PeerKeyPair(), mallory = PeerKeyPair(), h = Self.hash(1), unixNow: UInt64 = 1_800_000_000
        func decide(_ request: ReplicationProtocol.Request, from peer: PeerID) -> StorageManager.ReplicaDecision {
            m.replicaRequested(request, from: peer, now: Self.t0, unixNow: unixNow)
        }
        var unsigned = replicateRequest(h, size: 10, owner: owner)
        unsigned.record = nil
        var otherBundle = replicateRequest(Self.hash(2), size: 10, owner: owner)
        otherBundle.hash = h
        var otherSize = replicateRequest(h, size: 10, owner: owner)
        otherSize.size = 11
        let refused: [(ReplicationProtocol.Request, PeerID)] = [
            (unsigned, owner.peerID),
            // The owner's genuine record, replayed by someone else.
            (replicateRequest(h, size: 10, owner: owner), mallory.peerID),
            // A record naming the requester as owner but signed by another key.
            (replicateRequest(h, size: 10, owner: owner, signer: mallory), owner.peerID),
            (otherBundle, owner.peerID),
            (otherSize, owner.peerID),
            (replicateRequest(h, size: 10, owner: owner, status: .revoked), owner.peerID),
            (replicateRequest(h, size: 10, owner: owner, recordExpiresAt: unixNow), owner.peerID),
        ]
        for (request, peer) in refused { #expect(decide(request, from: peer) == .refuse(.unauthorized)) }
        #expect(m.incoming.isEmpty && m.entries.isEmpty)
        #expect(decide(replicateRequest(h, size: 10, owner: owner, recordExpiresAt: unixNow + 1), from: owner.peerID) == .fetch)
    }

    @Test func aReplicaOfAnotherSizeThanDeclaredIsDropped() {
        var m = StorageManager(localPeer: PeerKeyPair().peerID)
        let owner = PeerKeyPair(), h = Self.hash(1)
        #expect(m.replicaRequested(replicateRequest(h, size: 10, owner: owner), from: owner.peerID, now: Self.t0, unixNow: 1) == .fetch)
        #expect(m.replicaFetched(h, from: owner.peerID, size: 9, now: Self.t0) == [.deleteLocal(h)])
        #expect(m.entries[h] == nil && m.incoming.isEmpty)
        // An answer nobody asked for (or one reported after the fetch timed out) is dropped too.
        #expect(m.replicaFetched(Self.hash(2), from: owner.peerID, size: 10, now: Self.t0) == [.deleteLocal(Self.hash(2))])
        #expect(m.replicaRequested(replicateRequest(h, size: 10, owner: owner), from: owner.peerID, now: Self.t0, unixNow: 1) == .fetch)
        // A fetch never reported is forgotten after the timeout (its room released).
        _ = m.tick(now: Self.t0 + StorageManager.Configuration().replicaFetchTimeout)
        #expect(m.incoming.isEmpty)
    }

    // MARK: finding 6c

    @Test func aTombstoneFloodNeverEvictsUnacknowledgedRevocations() {
        var config = StorageManager.Configuration()
        config.maxTombstones = 8
        config.maxTombstonesPerOwner = 2
        var m = StorageManager(localPeer: PeerKeyPair().peerID, configuration: config)
        // Own content revoked; its holder has not acknowledged the deletion yet.
        let mine = Self.hash(0), holder = PeerKeyPair().peerID
        _ = m.stored(mine, size: 10, origin: .own, replicationFactor: 1, now: Self.t0)
        _ = m.targetsFound(mine, candidates: [holder], now: Self.t0)
        m.replicationSucceeded(mine, at: holder, now: Self.t0)
        _ = m.revoke(mine, now: Self.t0)
        // Twenty peers: DELETEs for hashes not held, then each deletes three replicas it placed.
        var n = 1
        for _ in 0..<20 {
            let attacker = PeerKeyPair()
            for _ in 0..<5 { _ = m.deletionRequested(Self.hash(n), by: attacker.peerID, now: Self.t0 + .seconds(1)); n += 1 }
            for _ in 0..<3 {
                #expect(Self.place(&m, Self.hash(n), size: 1, owner: attacker, now: Self.t0 + .seconds(1)) == .fetch)
                #expect(m.deletionRequested(Self.hash(n), by: attacker.peerID, now: Self.t0 + .seconds(1)) == [.deleteLocal(Self.hash(n))])
                n += 1
            }
            #expect(m.tombstones.keys.count(where: { $0.owner == attacker.peerID }) <= 2)
        }
        let own = m.tombstones[.init(hash: mine, owner: m.localPeer)]
        #expect(own?.unacknowledged.keys.contains(holder) == true)
        #expect(m.tombstones.count == 1 + config.maxTombstones)
        #expect(m.isRevoked(mine))
        // …and its deletion is still retried.
        m.deletionFailed(mine, at: holder, now: Self.t0)
        #expect(m.tick(now: Self.t0 + .seconds(3)) == [.requestDeletion(mine, at: holder)])
    }

    @Test func oneOwnerCannotFillTheColdTier() {
        var config = StorageManager.Configuration()
        config.coldCapacity = 1000
        config.maxReplicaBytesPerOwner = 300
        config.maxReplicasPerOwner = 5
        var m = StorageManager(localPeer: PeerKeyPair().peerID, configuration: config)
        let greedy = PeerKeyPair(), honest = PeerKeyPair()
        for i in 0..<3 { #expect(Self.place(&m, Self.hash(i), size: 100, owner: greedy) == .fetch) }
        #expect(Self.place(&m, Self.hash(3), size: 1, owner: greedy) == .refuse(.quota))
        #expect(m.replicaUsage(of: greedy.peerID).bytes == 300)
        // Fetches in flight hold their room: many small requests at once don't slip past the quota.
        #expect(m.replicaRequested(replicateRequest(Self.hash(10), size: 2, owner: honest), from: honest.peerID,
                                   now: Self.t0, unixNow: 1) == .fetch)
        for i in 11..<14 {
            #expect(m.replicaRequested(replicateRequest(Self.hash(i), size: 1, owner: honest), from: honest.peerID, now: Self.t0, unixNow: 1) == .fetch)
        }
        #expect(m.replicaRequested(replicateRequest(Self.hash(14), size: 1, owner: honest), from: honest.peerID, now: Self.t0, unixNow: 1) == .refuse(.busy))
        for i in 10..<14 { _ = m.replicaFetched(Self.hash(i), from: honest.peerID, size: i == 10 ? 2 : 1, now: Self.t0) }
        #expect(Self.place(&m, Self.hash(15), size: 1, owner: honest) == .fetch)
        // The replica count per owner is bounded too.
        #expect(Self.place(&m, Self.hash(16), size: 1, owner: honest) == .refuse(.quota))
        #expect(m.replicaUsage(of: honest.peerID).count == 5)
        // The declared size is held against the quota before any byte is fetched.
        #expect(Self.place(&m, Self.hash(17), size: 10_000, owner: PeerKeyPair()) == .refuse(.quota))
        #expect(m.bytes(in: .cold) == 306)
    }

    // MARK: property: extreme values (issue 11)

    /// Every numeric field of every replication and content-transfer message, set to each of
    /// the extreme values (truncated to the field's width), through the codecs and the manager
    /// at extreme instants: nothing traps, accepted expiries are clamped, the state stays bounded.
    @Test func extremeValuesInEveryFieldNeitherTrapNorGrowTheState() throws {
        var config = StorageManager.Configuration()
        config.maxIncomingReplicas = 4
        config.maxReplicas = 16
        config.maxTombstones = 8
        var m = StorageManager(localPeer: PeerKeyPair().peerID, configuration: config)
        let owner = PeerKeyPair()
        var n = 0, accepted = 0
        for kind in extremeWireValues + [2] {
            for size in extremeWireValues {
                for expires in extremeWireValues {
                    n += 1
                    let hash = Self.hash(n)
                    var record = ContentRecord(
                        contentID: "c\(n)", contentType: "t", bundleHash: hash,
                        metadata: .init(size: size, createdAt: expires, expiresAt: expires == 0 ? nil : expires,
                                        replicationFactor: UInt32(truncatingIfNeeded: expires)),
                        owner: owner.peerID, revokedAt: expires)
                    try record.sign(as: owner, addrs: [], at: expires)
                    var w = ProtobufWriter()
                    w.writeVarint(field: 1, kind)
                    w.writeBytes(field: 2, hash.key)
                    w.writeVarint(field: 3, size)
                    w.writeVarint(field: 4, expires)
                    w.writeBytes(field: 5, record.encoded)
                    let now = NetworkInstant(nanoseconds: expires)
                    guard let request = try? ReplicationProtocol.decodeRequest(w.bytes) else {
                        #expect(kind > 2)
                        continue
                    }
                    #expect(request.size == size && request.expiresIn == expires && request.record == record)
                    switch request.kind {
                    case .replicate:
                        if m.replicaRequested(request, from: owner.peerID, now: now, unixNow: size) == .fetch {
                            let actions = m.replicaFetched(hash, from: owner.peerID, size: Int(clamping: size), now: now)
                            if let e = m.entries[hash] {
                                accepted += 1
                                #expect(actions.contains(.announce(hash)))
                                #expect(e.expiresAt.map { $0 <= now + config.maxReplicaLifetime } == true)
                            }
                        }
                    case .delete: _ = m.deletionRequested(hash, by: owner.peerID, now: now)
                    case .have: _ = m.entries[hash]
                    }
                    _ = m.tick(now: NetworkInstant(nanoseconds: size))
                    #expect(m.incoming.count <= config.maxIncomingReplicas)
                    #expect(m.entries.count <= config.maxReplicas)
                    #expect(m.tombstones.count <= config.maxTombstones)
                }
            }
        }
        #expect(accepted > 0)
        // The answers: ReplicationProtocol.Response { ok }, ContentResponse { status, size }.
        for a in extremeWireValues {
            for b in extremeWireValues {
                var w = ProtobufWriter()
                w.writeVarint(field: 1, a)
                w.writeVarint(field: 2, b)
                #expect(try ReplicationProtocol.decodeResponse(w.bytes) == (a != 0))
                if case let (status, size)? = try? ContentTransferProtocol.decodeResponse(w.bytes) {
                    #expect(status.rawValue == a && (status != .ok || size == b))
                } else {
                    #expect(a > 3)
                }
                // A content request whose hash field is a number instead of bytes is refused.
                var r = ProtobufWriter()
                r.writeVarint(field: 1, a)
                #expect(throws: WireError.self) { try ContentTransferProtocol.decodeRequest(r.bytes) }
            }
        }
    }

    // MARK: provider key (SPEC §8.2)

    @Test func theProviderKeyOfAContentIdIsTheSHA256MultihashOfTheContentId() {
        for id in ["", "c", "content-1", String(repeating: "é", count: 200)] {
            let expected: [UInt8] = [0x12, 0x20] + Array(SHA256.hash(data: Array(id.utf8)))
            #expect(ContentHash.providerKey(contentID: id) == expected)
        }
    }
}

/// The same rules over real sockets, through ``StorageService`` and ``VivimNode``.
@Suite(.serialized, .timeLimit(.minutes(2))) struct StorageHardeningSocketTests {
    /// A peer serving its own blobs over `/vivim/content/1.0.0`, sending raw replication requests.
    final class Attacker: Sendable {
        let identity: PeerKeyPair
        let host: P2PHost
        let blobs: ContentTransferSocketTests.Store
        let transfer: ContentTransferService

        init() async {
            identity = PeerKeyPair()
            host = P2PHost(identity: identity)
            let blobs = ContentTransferSocketTests.Store()
            self.blobs = blobs
            transfer = ContentTransferService(host: host) { hash in blobs.get(hash) }
            await transfer.start()
        }

        func blob(_ bytes: [UInt8]) -> ContentHash { blobs.put(bytes) }

        /// Sends one request to `victim` and returns its answer.
        func send(_ request: ReplicationProtocol.Request, to victim: StorageServiceSocketTests.Node) async throws -> Bool {
            let connection = try await host.dial(victim.address.withoutPeerID.appending(.p2p(victim.host.peerID)))
            let stream = try await connection.openStream(ReplicationProtocol.protocolID)
            try await stream.write(ReplicationProtocol.encode(request))
            stream.closeWrite()
            var reader = StreamReader(stream)
            let body = try #require(try await reader.readFrame(maxLength: 256))
            stream.close()
            return try ReplicationProtocol.decodeResponse(body)
        }
    }

    /// Security review finding 1, reproduced: REPLICATE with `expires_in` = 2^40 and every
    /// extreme value. The node answers every one, stays up, and keeps each replica at most
    /// ``StorageManager/Configuration/maxReplicaLifetime``.
    @Test func aReplicateWithAnExtremeExpiryLeavesTheNodeUpAndTheExpiryClamped() async throws {
        let victim = try await StorageServiceSocketTests.Node()
        let attacker = await Attacker()
        let lifetime = StorageManager.Configuration().maxReplicaLifetime
        for (i, expiresIn) in ([1 << 40] + extremeWireValues).enumerated() {
            let bytes = Array("junk-\(i)".utf8)
            let hash = attacker.blob(bytes)
            let request = replicateRequest(hash, size: UInt64(bytes.count), owner: attacker.identity, expiresIn: expiresIn)
            #expect(try await attacker.send(request, to: victim))
            let entry = try #require(await victim.storage.entry(hash))
            #expect(entry.origin == .replica(owner: attacker.identity.peerID))
            let expiry = try #require(entry.expiresAt)
            #expect(expiry - entry.lastAccess <= lifetime)
            if expiresIn >= 1 << 35 { #expect(expiry - entry.lastAccess > lifetime - .seconds(60)) }
        }
        // Still serving: HAVE is answered.
        let have = ReplicationProtocol.Request(kind: .have, hash: ContentHash(of: Array("junk-0".utf8)), size: 0, expiresIn: nil)
        #expect(try await attacker.send(have, to: victim))
        await attacker.host.shutdown()
        await victim.storage.stop(); await victim.dht.stop(); await victim.host.shutdown()
    }

    @Test func aReplicateWithoutTheOwnersSignatureOrWithAWrongSizeIsRefused() async throws {
        let victim = try await StorageServiceSocketTests.Node()
        let attacker = await Attacker()
        let bytes = Array("a blob of 19 bytes.".utf8)
        let hash = attacker.blob(bytes)
        var unsigned = replicateRequest(hash, size: UInt64(bytes.count), owner: attacker.identity)
        unsigned.record = nil
        let someoneElses = replicateRequest(hash, size: UInt64(bytes.count), owner: PeerKeyPair())
        let larger = replicateRequest(hash, size: UInt64(bytes.count + 5), owner: attacker.identity)
        let smaller = replicateRequest(hash, size: UInt64(bytes.count - 1), owner: attacker.identity)
        for request in [unsigned, someoneElses, larger, smaller] {
            #expect(try await attacker.send(request, to: victim) == false)
            #expect(await victim.storage.entry(hash) == nil)
        }
        // The same bundle, signed and declared right, is accepted.
        #expect(try await attacker.send(replicateRequest(hash, size: UInt64(bytes.count), owner: attacker.identity), to: victim))
        #expect(await victim.storage.entry(hash)?.origin == .replica(owner: attacker.identity.peerID))
        await attacker.host.shutdown()
        await victim.storage.stop(); await victim.dht.stop(); await victim.host.shutdown()
    }

    /// SPEC §8.2: the node provides a content id under `0x12 0x20 ‖ SHA-256(contentId)` —
    /// computed here from the formula — and another node finds it there through its own DHT.
    @Test func aContentIdsProvidersAreFoundUnderItsSHA256MultihashThroughAnotherNodesDHT() async throws {
        let root = try NodeRestartTests.root()
        defer { removeTree(root) }
        let seed = try await NodeRestartTests.node(root + "/seed", type: .bootstrap)
        let address = try #require(await seed.listenAddresses.first)
        let owner = try await NodeRestartTests.node(root + "/owner", type: .edge, bootstrap: [address])
        let reader = try await NodeRestartTests.node(root + "/reader", type: .edge, bootstrap: [address])
        let all = [seed, owner, reader]
        defer { Task { for n in all { await n.shutdown() } } }
        try #require(try await NodeRestartTests.eventually {
            let (a, b) = (await owner.dht.routingTableSize, await reader.dht.routingTableSize)
            return a >= 1 && b >= 1
        })
        let contentID = "provider-key-1", bytes = NodeRestartTests.bundle(9)
        let hash = try await owner.publish(contentId: contentID, bytes: bytes, replicationFactor: 0)
        let key: [UInt8] = [0x12, 0x20] + Array(SHA256.hash(data: Array(contentID.utf8)))
        #expect(key != hash.key)
        #expect(try await NodeRestartTests.eventually {
            ((try? await reader.dht.findProviders(key, wanted: 20)) ?? []).contains { $0.id == owner.peerID }
        })
        #expect(try await reader.providers(contentId: contentID).contains { $0.id == owner.peerID })
        #expect(try await reader.fetch(contentId: contentID) == bytes)
        for n in all { await n.shutdown() }
    }
}

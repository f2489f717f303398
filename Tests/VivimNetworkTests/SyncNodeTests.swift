import Synchronization
import Testing
import VivimCRDT
@testable import VivimNetwork

/// `/vivim/sync/1.0.0` between real nodes on 127.0.0.1: every product type
/// converges byte for byte, live updates follow, a partitioned node catches up,
/// and the protocol refuses bad frames and denied documents.
@Suite(.serialized, .timeLimit(.minutes(3))) struct SyncNodeTests {
    static let contentId = "content-1"
    static let ids: [DocumentID] = [.views(contentId), .collection("circle-reading"), .annotations("conv-1"), .actions("did:key:user")]

    /// A node on an ephemeral port, with test-speed timers.
    static func node(_ directory: TemporaryDirectory, _ name: String, identity: PeerKeyPair = PeerKeyPair(),
                     configure: (inout VivimNode.Configuration) -> Void = { _ in }) async throws -> VivimNode {
        var config = VivimNode.Configuration(contentDirectory: directory.path + "/" + name)
        config.listen = try Multiaddr("/ip4/127.0.0.1/tcp/0")
        config.monitorInterval = .seconds(1)
        config.sync.syncTimeout = .seconds(10)
        config.sync.antiEntropyInterval = .seconds(2)
        configure(&config)
        let node = try VivimNode(identity: identity, configuration: config)
        try await node.start()
        return node
    }

    /// Polls `condition` every 50 ms for at most `seconds`.
    static func eventually(seconds: Int = 15, _ condition: @Sendable () async throws -> Bool) async throws -> Bool {
        for _ in 0..<(seconds * 20) {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }

    static func states(_ nodes: [VivimNode], _ id: DocumentID) async -> [[UInt8]] {
        var out: [[UInt8]] = []
        for node in nodes { out.append(await node.sync.save(id) ?? []) }
        return out
    }

    static func converged(_ nodes: [VivimNode], _ ids: [DocumentID] = ids) async -> Bool {
        for id in ids where Set(await states(nodes, id)).count != 1 { return false }
        return true
    }

    static func note(_ id: String, _ body: String) -> AnnotationThread.Annotation {
        .init(id: id, body: body, author: "did:key:user", anchor: .init(messageId: "m1", acuId: "acu-1"), createdAt: 1)
    }

    /// Concurrent edits of every product type on `node`, tagged with `tag`.
    static func edit(_ node: VivimNode, tag: String, views: UInt64, time: UInt64) async throws {
        let peer = node.peerID.description
        _ = try await node.openDocument(.views(contentId)).change(ViewCounter.self) { $0.recordViews(views, servedBy: peer, wallClock: time) }
        _ = try await node.openDocument(.collection("circle-reading")).change(SharedCollection.self) { $0.add("c-" + tag) }
        _ = try await node.openDocument(.annotations("conv-1")).change(AnnotationThread.self) { $0.insert(Self.note("n-" + tag, "by " + tag), wallClock: time) }
        _ = try await node.openDocument(.actions("did:key:user")).change(OfflineActionQueue.self) {
            $0.record(.accept(intentId: "intent-" + tag), operationId: "op-" + tag, wallClock: time)
        }
    }

    @Test func twoNodesSyncEveryProductTypeAndLiveUpdatesFollow() async throws {
        let dir = try TemporaryDirectory()
        let a = try await Self.node(dir, "a"), b = try await Self.node(dir, "b")
        defer { Task { await a.shutdown(); await b.shutdown() } }
        try await Self.edit(a, tag: "a", views: 5, time: 10)
        try await Self.edit(b, tag: "b", views: 3, time: 11)
        let addrs = await a.listenAddresses
        for id in Self.ids { try await b.syncDocument(id, with: a.peerID, addrs: addrs) }
        #expect(try await Self.eventually { await Self.converged([a, b]) })
        let counter = try #require(await a.sync.read(ViewCounter.self, .views(Self.contentId)))
        #expect(counter.total == 8)
        #expect(counter.servedByNode == [a.peerID.description: 5, b.peerID.description: 3])
        #expect(await a.sync.read(SharedCollection.self, .collection("circle-reading"))?.contentIds == ["c-a", "c-b"])
        #expect(await b.sync.read(AnnotationThread.self, .annotations("conv-1"))?.ids.sorted() == ["n-a", "n-b"])
        #expect(await b.sync.read(OfflineActionQueue.self, .actions("did:key:user"))?.entries.count == 2)

        // Live: a change on either side reaches the other without another sync call.
        _ = try await a.openDocument(.collection("circle-reading")).change(SharedCollection.self) { $0.remove("c-b") }
        _ = try await b.openDocument(.annotations("conv-1")).change(AnnotationThread.self) { $0.edit("n-a", body: "edited on b", wallClock: 99) }
        #expect(try await Self.eventually {
            let items = await b.sync.read(SharedCollection.self, .collection("circle-reading"))?.contentIds
            let body = await a.sync.read(AnnotationThread.self, .annotations("conv-1"))?.annotation("n-a")?.body
            return items == ["c-a"] && body == "edited on b"
        })
        #expect(try await Self.eventually { await Self.converged([a, b]) })
    }

    @Test func threeNodesConvergeAndLiveUpdatesReachANodeThroughACommonPeer() async throws {
        let dir = try TemporaryDirectory()
        // View counts pass through B only because every node trusts its peers as relays
        // (by default a node takes from a peer only that peer's own view entry).
        let trusting: (inout VivimNode.Configuration) -> Void = { $0.sync.trustedRelay = { _, _ in true } }
        let a = try await Self.node(dir, "a", configure: trusting), b = try await Self.node(dir, "b", configure: trusting)
        let c = try await Self.node(dir, "c", configure: trusting)
        defer { Task { await a.shutdown(); await b.shutdown(); await c.shutdown() } }
        try await Self.edit(a, tag: "a", views: 1, time: 10)
        try await Self.edit(b, tag: "b", views: 2, time: 10)
        try await Self.edit(c, tag: "c", views: 4, time: 10)
        // A and C each sync with B only; they are never connected to each other.
        let hub = await b.listenAddresses
        for id in Self.ids {
            try await a.syncDocument(id, with: b.peerID, addrs: hub)
            try await c.syncDocument(id, with: b.peerID, addrs: hub)
            try await a.syncDocument(id, with: b.peerID, addrs: hub)
        }
        #expect(try await Self.eventually { await Self.converged([a, b, c]) })
        #expect(await c.sync.read(ViewCounter.self, .views(Self.contentId))?.total == 7)
        #expect(a.host.connections(to: c.peerID).isEmpty)

        // A live update from A reaches C, forwarded once by B.
        _ = try await a.openDocument(.views(Self.contentId)).change(ViewCounter.self) { $0.recordViews(10) }
        _ = try await c.openDocument(.annotations("conv-1")).change(AnnotationThread.self) { $0.delete("n-b") }
        #expect(try await Self.eventually {
            let total = await c.sync.read(ViewCounter.self, .views(Self.contentId))?.total
            let ids = await a.sync.read(AnnotationThread.self, .annotations("conv-1"))?.ids
            return total == 17 && ids?.contains("n-b") == false
        })
        #expect(try await Self.eventually { await Self.converged([a, b, c]) })
    }

    @Test func aPartitionedNodeKeepsChangingAndConvergesOnReconnectWithoutDoubleCounting() async throws {
        let dir = try TemporaryDirectory()
        let a = try await Self.node(dir, "a")
        let bIdentity = PeerKeyPair()
        let b = try await Self.node(dir, "b", identity: bIdentity)
        defer { Task { await a.shutdown() } }
        try await Self.edit(a, tag: "a", views: 5, time: 10)
        try await Self.edit(b, tag: "b", views: 2, time: 10)
        let addrs = await a.listenAddresses
        for id in Self.ids { try await b.syncDocument(id, with: a.peerID, addrs: addrs) }
        #expect(try await Self.eventually { await Self.converged([a, b]) })

        // B goes offline: its documents are saved, the node shut down.
        var saved: [[UInt8]] = []
        for id in Self.ids { saved.append(try #require(await b.sync.save(id))) }
        await b.shutdown()

        // Both sides keep changing. A counts 3 more views and edits the collection …
        _ = try await a.openDocument(.views(Self.contentId)).change(ViewCounter.self) { $0.recordViews(3) }
        _ = try await a.openDocument(.collection("circle-reading")).change(SharedCollection.self) { $0.remove("c-b") }

        // … B, restarted offline from its saved state, counts 4 views and queues share actions
        // (one of them recorded twice, as a client retry would).
        let b2 = try await Self.node(dir, "b2", identity: bIdentity)
        defer { Task { await b2.shutdown() } }
        for bytes in saved { try await b2.sync.load(bytes) }
        _ = try await b2.openDocument(.views(Self.contentId)).change(ViewCounter.self) { $0.recordViews(4) }
        let queue = try await b2.openDocument(.actions("did:key:user"))
        for _ in 0..<2 {
            _ = try await queue.change(OfflineActionQueue.self) { q in
                q.record(.view(contentId: Self.contentId), operationId: "view-77", wallClock: 20)
                q.record(.addToCollection(collectionId: "circle-reading", contentId: "c-offline"), operationId: "add-1", wallClock: 21)
                q.record(.annotate(contentId: "conv-1", annotation: Self.note("n-offline", "written offline")), operationId: "note-1", wallClock: 22)
                q.record(.decline(intentId: "intent-9"), operationId: "decline-1", wallClock: 23)
            }
        }

        // Reconnect: B syncs everything; A (the home node) replays the queue once.
        for id in Self.ids { try await b2.syncDocument(id, with: a.peerID, addrs: addrs) }
        #expect(try await Self.eventually { await Self.converged([a, b2]) })
        let external = Mutex<[String]>([])
        let replayed = try await a.sync.replayActions(.actions("did:key:user"), wallClock: 30) { entry in
            external.withLock { $0.append(entry.operationId) }
        }
        #expect(replayed == 6)  // the two accepts synced before the partition, and the four queued offline
        #expect(Set(external.withLock { $0 }) == ["op-a", "op-b", "decline-1"])
        #expect(try await a.sync.replayActions(.actions("did:key:user"), wallClock: 31) == 0)

        // Sync again (and let anti-entropy run): nothing is counted twice.
        for id in Self.ids { try await b2.syncDocument(id, with: a.peerID, addrs: addrs) }
        #expect(try await Self.eventually { await Self.converged([a, b2]) })
        for node in [a, b2] {
            #expect(await node.sync.read(ViewCounter.self, .views(Self.contentId))?.total == 5 + 2 + 3 + 4 + 1)
            #expect(await node.sync.read(SharedCollection.self, .collection("circle-reading"))?.contentIds == ["c-a", "c-offline"])
            #expect(await node.sync.read(AnnotationThread.self, .annotations("conv-1"))?.ids.sorted() == ["n-a", "n-b", "n-offline"])
            #expect(await node.sync.read(OfflineActionQueue.self, .actions("did:key:user"))?.pending.isEmpty == true)
        }
    }

    /// Security review finding 20 through two real nodes: a peer that syncs a view counter
    /// with forged entries (another node's replica raised, 300 invented replicas, a relabelled
    /// entry) changes nothing but its own entry, live or by sync; an untrusted relay passes on
    /// nobody's entry; a trusted relay cannot push a document past its replica bound.
    @Test func aPeerCannotRaiseAnotherReplicasViewsOrAddReplicas() async throws {
        let dir = try TemporaryDirectory()
        let server = try await Self.node(dir, "server") { $0.sync.maxReplicasPerDocument = 64 }
        let honest = try await Self.node(dir, "honest"), attacker = try await Self.node(dir, "attacker")
        defer { Task { await server.shutdown(); await honest.shutdown(); await attacker.shutdown() } }
        let id = DocumentID.views(Self.contentId)
        let serverReplica = ReplicaID(peer: server.peerID), honestReplica = ReplicaID(peer: honest.peerID)
        #expect(server.sync.peerReplica == serverReplica)
        let addrs = await server.listenAddresses
        _ = try await server.openDocument(id).change(ViewCounter.self) { $0.recordViews(5, servedBy: "server") }
        _ = try await honest.openDocument(id).change(ViewCounter.self) { $0.recordViews(3, servedBy: "honest") }
        try await honest.syncDocument(id, with: server.peerID, addrs: addrs)
        #expect(try await Self.eventually { await server.sync.read(ViewCounter.self, id)?.total == 8 })

        // The attacker's copy: its own view, then forged entries merged in (as a modified node would).
        let forgedIn = try await attacker.openDocument(id)
        _ = try await forgedIn.change(ViewCounter.self) { $0.recordViews(1, servedBy: "attacker") }
        // Operations past the ones the server's replica really made, so a delta carries them.
        var forged = CRDTDocument(id: id, replica: serverReplica)
        for _ in 0..<10 { forged.increment("pad", by: 0) }
        forged.increment("views", by: 1_000_000)
        forged.setValue(.string("attacker"), forKey: String(honestReplica.rawValue, radix: 16), inMap: "nodes", wallClock: .max)
        for i in 0..<300 {
            var sybil = CRDTDocument(id: id, replica: ReplicaID(UInt64(i + 1)))
            sybil.increment("views", by: 1)
            forged.apply(sybil.update(since: StateVector()))
        }
        try await attacker.apply(update: forged.update(since: StateVector()))
        #expect(try await attacker.sync.read(ViewCounter.self, id)?.total ?? 0 > 1_000_000)
        try await attacker.syncDocument(id, with: server.peerID, addrs: addrs)
        #expect(try await Self.eventually { await server.sync.read(ViewCounter.self, id)?.served(by: ReplicaID(peer: attacker.peerID)) == 1 })

        // Live: another forged raise of the honest node's entry, then a real view of the attacker's.
        var raise = CRDTDocument(id: id, replica: honestReplica)
        for _ in 0..<10 { raise.increment("pad", by: 0) }
        raise.increment("views", by: 7_000)
        try await attacker.apply(update: raise.update(since: StateVector()))
        _ = try await forgedIn.change(ViewCounter.self) { $0.recordViews(1, servedBy: "attacker") }
        #expect(try await Self.eventually { await server.sync.read(ViewCounter.self, id)?.served(by: ReplicaID(peer: attacker.peerID)) == 2 })
        let counter = try #require(await server.sync.read(ViewCounter.self, id))
        #expect(counter.total == 5 + 3 + 2)
        #expect(counter.servedByReplica == [serverReplica: 5, honestReplica: 3, ReplicaID(peer: attacker.peerID): 2])
        #expect(counter.servedByNode == ["server": 5, "honest": 3, "attacker": 2])

        // A node syncing with the attacker only (an untrusted relay) gets the attacker's entry, no other.
        let reader = try await Self.node(dir, "reader")
        defer { Task { await reader.shutdown() } }
        _ = try await reader.openDocument(id)
        try await reader.syncDocument(id, with: attacker.peerID, addrs: await attacker.listenAddresses)
        #expect(try await Self.eventually { await reader.sync.read(ViewCounter.self, id)?.total == 2 })
        #expect(await reader.sync.read(ViewCounter.self, id)?.servedByReplica.count == 1)

        // A relay the server trusts is still held to the replica bound (64 here).
        let relayed = try await Self.node(dir, "relayed") { config in
            config.sync.maxReplicasPerDocument = 64
            config.sync.trustedRelay = { _, _ in true }
        }
        defer { Task { await relayed.shutdown() } }
        let refusals = Mutex(0)
        let events = relayed.syncEvents
        let attackerPeer = attacker.peerID
        let watcher = Task {
            for await event in events { if case .limitExceeded(id, from: attackerPeer) = event { refusals.withLock { $0 += 1 } } }
        }
        defer { watcher.cancel() }
        _ = try await relayed.openDocument(id).change(ViewCounter.self) { $0.recordViews(1) }
        let attackerAddrs = await attacker.listenAddresses
        await #expect(throws: DocumentSyncService.Error.limitExceeded(id, attacker.peerID)) {
            try await relayed.syncDocument(id, with: attacker.peerID, addrs: attackerAddrs)
        }
        #expect(refusals.withLock { $0 } >= 1)
        #expect(await relayed.sync.read(ViewCounter.self, id)?.total == 1)
    }

    @Test func aDocumentThePolicyDeniesIsNotServed() async throws {
        let dir = try TemporaryDirectory()
        let b = try await Self.node(dir, "b")
        let bPeer = b.peerID
        // A serves collections to nobody but itself, and holds no other documents.
        let a = try await Self.node(dir, "a") { config in
            config.sync.policy = { id, peer, held in held && !(id.namespaced?.namespace == .collection && peer == bPeer) }
        }
        defer { Task { await a.shutdown(); await b.shutdown() } }
        _ = try await a.openDocument(.collection("secret")).change(SharedCollection.self) { $0.add("private-content") }
        let addrs = await a.listenAddresses

        _ = try await b.openDocument(.collection("secret"))
        await #expect(throws: DocumentSyncService.Error.denied(.collection("secret"), a.peerID)) {
            try await b.syncDocument(.collection("secret"), with: a.peerID, addrs: addrs)
        }
        #expect(await b.sync.read(SharedCollection.self, .collection("secret"))?.contentIds == [])

        // Default policy: a document A does not hold is refused, not created.
        _ = try await b.openDocument(.views("unknown"))
        await #expect(throws: DocumentSyncService.Error.denied(.views("unknown"), a.peerID)) {
            try await b.syncDocument(.views("unknown"), with: a.peerID, addrs: addrs)
        }
        #expect(await a.sync.documentIDs == [.collection("secret")])

        // And B's own policy stops it from asking for what it does not hold.
        await #expect(throws: DocumentSyncService.Error.notAllowed(.annotations("x"), a.peerID)) {
            try await b.syncDocument(.annotations("x"), with: a.peerID, addrs: addrs)
        }
    }

    @Test func malformedAndOversizedFramesAreRefusedWithoutCrashing() async throws {
        let dir = try TemporaryDirectory()
        let a = try await Self.node(dir, "a") { $0.sync.limits.maxFrameLength = 64 * 1024 }
        defer { Task { await a.shutdown() } }
        let errors = Mutex(0)
        let events = a.syncEvents
        let watcher = Task {
            for await event in events { if case .protocolError = event { errors.withLock { $0 += 1 } } }
        }
        defer { watcher.cancel() }
        _ = try await a.openDocument(.views("c")).change(ViewCounter.self) { $0.recordViews(2) }

        let raw = P2PHost(identity: PeerKeyPair())
        defer { Task { await raw.shutdown() } }
        let address = try #require(await a.listenAddresses.first)
        let connection = try await raw.dial(address)
        let bad: [[UInt8]] = [
            VarintFrame.encode([1, 1, 1, 0xFF, 0xFF]),                    // a message with an unknown tag
            VarintFrame.encode([7, 1, 1]),                                // an unknown version
            [0x80, 0x80, 0x80, 0x01] + [UInt8](repeating: 0, count: 16),  // declares 2 MiB > 64 KiB
            [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],  // a varint that never ends
        ]
        for (i, frame) in bad.enumerated() {
            let stream = try await connection.openStream(SyncProtocol.protocolID)
            try await stream.write(frame)
            var reader = StreamReader(stream)
            // The node resets the stream: reading ends (by end of stream or reset), nothing is answered.
            let answer = try? await reader.readFrame(maxLength: 1 << 20)
            #expect(answer == nil)
            #expect(try await Self.eventually { errors.withLock { $0 } >= i + 1 })
        }

        // The node still serves a well-formed request on the same connection.
        let stream = try await connection.openStream(SyncProtocol.protocolID)
        try await stream.write(SyncProtocol.Frame.messages([.stateVector(.views("c"), StateVector())]).framed)
        var reader = StreamReader(stream)
        let reply = try #require(try await reader.readFrame(maxLength: 1 << 20))
        guard case .messages(let messages) = try SyncProtocol.Frame(decoding: reply), case .delta(let delta)? = messages.first else {
            Issue.record("expected a delta")
            return
        }
        var replica = CRDTDocument(id: .views("c"), replica: ReplicaID(1))
        #expect(replica.apply(delta) == .applied)
        #expect(ViewCounter(replica).total == 2)
        stream.close()
    }
}

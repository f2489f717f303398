import Testing
@testable import VivimCRDT

@Suite("CRDTSyncService in memory")
struct SyncServiceTests {
    /// Delivers messages between services until none are left.
    static func pump(_ services: [String: CRDTSyncService], from: String, _ outgoing: [CRDTSyncService.Outgoing]) async {
        var queue = outgoing.map { (from, $0) }
        while !queue.isEmpty {
            let (sender, envelope) = queue.removeFirst()
            guard let target = services[envelope.peer] else { continue }
            let replies = await target.receive(envelope.message, from: sender)
            queue += replies.map { (envelope.peer, $0) }
        }
    }

    @Test func createJoinEditSyncAndLeave() async throws {
        let alice = CRDTSyncService(replica: ReplicaID(1))
        let bob = CRDTSyncService(replica: ReplicaID(2))
        let services = ["alice": alice, "bob": bob]
        let id: DocumentID = "conversation/42/annotations"

        try await alice.create(id)
        await #expect(throws: CRDTSyncError.documentExists(id)) { try await alice.create(id) }
        _ = try await alice.applyUpdate(to: id) { $0.insertText("first note", at: 0, in: "body") }

        // Bob joins with Alice as a peer; the two-step exchange brings him up to date.
        await Self.pump(services, from: "bob", await bob.join(id, peers: ["alice"]))
        #expect(try await bob.document(id).text("body") == "first note")

        // Live updates flow both ways.
        await Self.pump(services, from: "bob", try await bob.applyUpdate(to: id) { $0.increment("views") })
        await Self.pump(services, from: "alice", try await alice.applyUpdate(to: id) { $0.insertText("!", at: 10, in: "body") })
        #expect(try await alice.state(of: id) == (try await bob.state(of: id)))
        #expect(try await alice.document(id).counter("views") == 1)

        // sync(): the delta for a peer's state vector; incomingUpdate(): applied out of band.
        let carol = CRDTSyncService(replica: ReplicaID(3))
        try await carol.create(id)
        let delta = try await alice.sync(id, peerStateVector: try await carol.stateVector(of: id))
        #expect(try await carol.incomingUpdate(delta) == .applied)
        #expect(try await carol.state(of: id) == (try await alice.state(of: id)))

        let last = await bob.leave(id)
        #expect(last != nil)
        await #expect(throws: CRDTSyncError.unknownDocument(id)) { try await bob.document(id) }
        #expect(await bob.receive(.stateVector(id, StateVector()), from: "alice").isEmpty)
    }

    @Test func saveAndLoadThroughTheService() async throws {
        let service = CRDTSyncService(replica: ReplicaID(1))
        try await service.create("profile")
        _ = try await service.applyUpdate(to: "profile") { $0.setValue(.string("Ada"), forKey: "name", inMap: "profile", wallClock: 1) }
        let saved = try await service.state(of: "profile")
        let restored = CRDTSyncService(replica: ReplicaID(1))
        #expect(try await restored.load(saved) == "profile")
        #expect(try await restored.document("profile").map("profile") == ["name": .string("Ada")])
    }
}

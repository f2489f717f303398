import Testing
@testable import VivimNetwork

@Suite struct PubSubRPCTests {
    @Test func roundTripsEveryField() throws {
        let author = PeerKeyPair()
        let m = try PubSubRPC.Message.signed(by: author, data: [1, 2, 3], seqno: 7, topic: "network:announce")
        var control = PubSubRPC.Control()
        control.ihave = [.init(topic: "t", messageIDs: [[1], [2, 3]])]
        control.iwant = [[4]]
        control.graft = ["t"]
        control.prune = [.init(topic: "t", peers: [author.peerID], backoff: 60)]
        let rpc = PubSubRPC(subscriptions: [.init(subscribe: true, topic: "t"), .init(subscribe: false, topic: "u")],
                            messages: [m], control: control)
        #expect(try PubSubRPC(decoding: rpc.encoded) == rpc)
    }

    @Test func strictSignAcceptsOnlyTheAuthorsSignature() throws {
        let author = PeerKeyPair()
        var m = try PubSubRPC.Message.signed(by: author, data: [9], seqno: 1, topic: "t")
        #expect(m.verifiedAuthor() == author.peerID)
        #expect(m.seqno == [0, 0, 0, 0, 0, 0, 0, 1])
        #expect(m.id == author.peerID.bytes + m.seqno)
        m.data = [10]
        #expect(m.verifiedAuthor() == nil)
        var forged = try PubSubRPC.Message.signed(by: PeerKeyPair(), data: [9], seqno: 1, topic: "t")
        forged.from = author.peerID.bytes
        #expect(forged.verifiedAuthor() == nil)
        var keyed = try PubSubRPC.Message.signed(by: author, data: [9], seqno: 2, topic: "t")
        keyed.key = PeerKeyPair().publicKey.protobufEncoded  // a key that is not the author's
        #expect(keyed.verifiedAuthor() == nil)
    }

    @Test func forwardsADecodedMessageAsReceivedUntilAFieldChanges() throws {
        let author = PeerKeyPair()
        let m = try PubSubRPC.Message.signed(by: author, data: [1, 2], seqno: 3, topic: "t")
        // Received bytes with an unknown field (99) are kept as they are for forwarding.
        var w = ProtobufWriter()
        w.writeBytes(field: 1, m.from)
        w.writeBytes(field: 2, m.data)
        w.writeBytes(field: 3, m.seqno)
        w.writeString(field: 4, m.topic)
        w.writeBytes(field: 5, m.signature!)
        w.writeVarint(field: 99, 1)
        var rpc = ProtobufWriter()
        rpc.writeBytes(field: 2, w.bytes)
        var decoded = try PubSubRPC(decoding: rpc.bytes).messages[0]
        #expect(decoded == m)
        #expect(decoded.encoded == w.bytes)
        #expect(decoded.verifiedAuthor() == author.peerID)
        // A changed field is encoded from the fields (never the stale bytes), and no longer verifies.
        decoded.data.append(9)
        #expect(decoded.encoded == PubSubRPC.Message(from: m.from, data: [1, 2, 9], seqno: m.seqno, topic: "t", signature: m.signature).encoded)
        #expect(try PubSubRPC(decoding: PubSubRPC(messages: [decoded]).encoded).messages[0].data == [1, 2, 9])
        #expect(decoded.verifiedAuthor() == nil)
    }

    @Test func verifiedMessagesRemembersOnlyGenuineContent() async throws {
        let author = PeerKeyPair()
        let m = try PubSubRPC.Message.signed(by: author, data: [1], seqno: 1, topic: "t")
        var forged = m
        forged.data = [2]  // same id and signature, other content
        let verified = VerifiedMessages()
        await verified.verify([m, forged])
        #expect(verified.author(of: m) == author.peerID)
        #expect(verified.author(of: forged) == nil)
        #expect(verified.outcome(of: forged) == .invalid)
        #expect(verified.validate(forged) == nil)
        // A copy never checked (another seqno) is verified on the spot, not taken on trust.
        var unchecked = forged
        unchecked.seqno = [0, 0, 0, 0, 0, 0, 0, 9]
        #expect(verified.outcome(of: unchecked) == nil)
        #expect(verified.validate(unchecked) == nil)
        #expect(verified.validate(m) == author.peerID)
    }

    @Test func rejectsMessagesWithSeveralTopics() {
        var m = ProtobufWriter()
        m.writeString(field: 4, "a")
        m.writeString(field: 4, "b")
        var rpc = ProtobufWriter()
        rpc.writeBytes(field: 2, m.bytes)
        #expect(throws: WireError.self) { try PubSubRPC(decoding: rpc.bytes) }
    }
}

@Suite struct GossipsubRouterTests {
    static let topic = "circle:1"

    /// A router with `count` peers that all subscribe to the topic.
    static func router(peers count: Int) -> (GossipsubRouter, [PeerID]) {
        var r = GossipsubRouter(identity: PeerKeyPair())
        let ps = (0..<count).map { _ in PeerKeyPair().peerID }
        for p in ps {
            _ = r.addPeer(p)
            _ = r.handle(PubSubRPC(subscriptions: [.init(subscribe: true, topic: topic)]), from: p, now: .zero)
        }
        return (r, ps)
    }

    static func sends(_ actions: [GossipsubRouter.Action]) -> [(PeerID, PubSubRPC)] {
        actions.compactMap { if case .send(let p, let rpc) = $0 { (p, rpc) } else { nil } }
    }

    @Test func joiningGraftsDPeers() {
        var (r, _) = Self.router(peers: 20)
        var rng = SplitMix64(seed: 1)
        let actions = r.subscribe(Self.topic, now: .zero, rng: &rng)
        #expect(r.mesh[Self.topic]?.count == 6)
        let grafts = Self.sends(actions).filter { $0.1.control?.graft == [Self.topic] }
        #expect(grafts.count == 6)
    }

    @Test func heartbeatKeepsTheMeshBetweenDLowAndDHigh() {
        var (r, peers) = Self.router(peers: 30)
        var rng = SplitMix64(seed: 2)
        _ = r.subscribe(Self.topic, now: .zero, rng: &rng)
        var graft = PubSubRPC.Control()
        graft.graft = [Self.topic]
        for p in peers { _ = r.handle(PubSubRPC(control: graft), from: p, now: .zero) }
        #expect(r.mesh[Self.topic]?.count == 30)
        let actions = r.heartbeat(now: .zero + .seconds(1), rng: &rng)
        #expect(r.mesh[Self.topic]?.count == 6)
        #expect(Self.sends(actions).filter { !($0.1.control?.prune.isEmpty ?? true) }.count == 24)
    }

    @Test func graftDuringBackoffIsPrunedAndPenalised() {
        var (r, peers) = Self.router(peers: 8)
        var rng = SplitMix64(seed: 3)
        _ = r.subscribe(Self.topic, now: .zero, rng: &rng)
        let peer = peers[0]
        var prune = PubSubRPC.Control()
        prune.prune = [.init(topic: Self.topic, peers: [], backoff: 60)]
        _ = r.handle(PubSubRPC(control: prune), from: peer, now: .zero)
        var graft = PubSubRPC.Control()
        graft.graft = [Self.topic]
        let reply = Self.sends(r.handle(PubSubRPC(control: graft), from: peer, now: .zero + .seconds(10)))
        #expect(reply.first?.1.control?.prune.first?.topic == Self.topic)
        #expect(r.mesh[Self.topic]?.contains(peer) == false)
        // One early GRAFT is tolerated (P7's threshold); a peer that keeps doing it is penalised.
        #expect(r.score(of: peer) == 0)
        for second in 11...16 { _ = r.handle(PubSubRPC(control: graft), from: peer, now: .zero + .seconds(Int64(second))) }
        #expect(r.score(of: peer) < 0)
    }

    @Test func dropsInvalidAndDuplicateMessagesAndForwardsValidOnes() throws {
        var (r, peers) = Self.router(peers: 10)
        var rng = SplitMix64(seed: 4)
        _ = r.subscribe(Self.topic, now: .zero, rng: &rng)
        let author = PeerKeyPair()
        let m = try PubSubRPC.Message.signed(by: author, data: [1], seqno: 1, topic: Self.topic)
        let sender = try #require(r.mesh[Self.topic]?.first)
        let first = r.handle(PubSubRPC(messages: [m]), from: sender, now: .zero)
        #expect(first.contains { if case .deliver(let d, let a) = $0 { d == m && a == author.peerID } else { false } })
        let forwarded = Self.sends(first).filter { !$0.1.messages.isEmpty }.map(\.0)
        #expect(Set(forwarded) == r.mesh[Self.topic]!.subtracting([sender]))
        #expect(r.handle(PubSubRPC(messages: [m]), from: peers[1], now: .zero).isEmpty)  // duplicate
        var bad = try PubSubRPC.Message.signed(by: author, data: [2], seqno: 2, topic: Self.topic)
        bad.data = [3]
        #expect(r.handle(PubSubRPC(messages: [bad]), from: peers[2], now: .zero).isEmpty)
        #expect(r.score(of: peers[2]) < 0)
    }

    @Test func answersIHaveWithIWantAndIWantFromTheCache() throws {
        var (a, _) = Self.router(peers: 0)
        var rng = SplitMix64(seed: 5)
        _ = a.subscribe(Self.topic, now: .zero, rng: &rng)
        let b = PeerKeyPair().peerID
        _ = a.addPeer(b)
        var ihave = PubSubRPC.Control()
        ihave.ihave = [.init(topic: Self.topic, messageIDs: [[1, 2, 3]])]
        let reply = Self.sends(a.handle(PubSubRPC(control: ihave), from: b, now: .zero))
        #expect(reply.first?.1.control?.iwant == [[1, 2, 3]])

        let (id, _) = try a.publish(Self.topic, data: [7], now: .zero, rng: &rng)
        var iwant = PubSubRPC.Control()
        iwant.iwant = [id]
        let answer = Self.sends(a.handle(PubSubRPC(control: iwant), from: b, now: .zero))
        #expect(answer.first?.1.messages.first?.id == id)
    }
}

/// Issue 5 acceptance targets for PubSub on a deterministic simulation.
@Suite(.serialized) struct PubSubSimulationTests {
    @Test func deliversEverythingWithoutFaultsAndNearlyEverythingWithTenPercentKilled() throws {
        var config = PubSubSimulation.Configuration()
        config.nodeCount = 1000
        config.seed = 7
        var sim = try PubSubSimulation(configuration: config)
        sim.subscribeAll()
        sim.run(for: .seconds(5))
        let meshes = sim.meshSizes()
        #expect(meshes.allSatisfy { $0 >= config.router.dLow && $0 <= config.router.dHigh })

        let healthy = try sim.measureDelivery(messages: 20)
        #expect(healthy.min == 1.0, "delivery without faults: mean \(healthy.mean), min \(healthy.min)")

        sim.kill(fraction: 0.1)
        sim.run(for: .seconds(3))  // heartbeats repair the meshes
        let faulty = try sim.measureDelivery(messages: 20)
        #expect(faulty.mean >= 0.999, "delivery with 10% killed: mean \(faulty.mean), min \(faulty.min)")
    }
}

import Synchronization
import Testing
@testable import VivimNetwork

/// Issue 11, security-review finding 11: gossipsub state a peer can make a node hold is
/// bounded per peer and per node, expires, and leaves with the peer (SPEC §8.1).
@Suite struct GossipsubHardeningTests {
    static let topic = "circle:1"

    static func router(_ configuration: GossipsubRouter.Configuration = .init(), peers count: Int,
                       subscribed: Bool = true) -> (GossipsubRouter, [PeerID]) {
        var r = GossipsubRouter(identity: PeerKeyPair(), configuration: configuration)
        var rng = SplitMix64(seed: 1)
        if subscribed { _ = r.subscribe(topic, now: .zero, rng: &rng) }
        let ps = (0..<count).map { _ in PeerKeyPair().peerID }
        for p in ps { _ = r.addPeer(p) }
        return (r, ps)
    }

    static func sends(_ actions: [GossipsubRouter.Action]) -> [(PeerID, PubSubRPC)] {
        actions.compactMap { if case .send(let p, let rpc) = $0 { (p, rpc) } else { nil } }
    }

    /// A 200-byte topic name, distinct for each `n`.
    static func floodTopic(_ n: Int) -> String {
        let tag = "flood-\(n)-"
        return tag + String(repeating: "x", count: 200 - tag.utf8.count)
    }

    static func subscriptionFlood(_ range: Range<Int>) -> PubSubRPC {
        PubSubRPC(subscriptions: range.map { .init(subscribe: true, topic: floodTopic($0)) })
    }

    static func pruneFlood(_ range: Range<Int>, backoff: UInt64? = .max) -> PubSubRPC {
        var control = PubSubRPC.Control()
        control.prune = range.map { .init(topic: floodTopic($0), peers: [], backoff: backoff) }
        return PubSubRPC(control: control)
    }

    // MARK: the finding's reproduction

    /// Peers send RPCs of 5,000 subscriptions to distinct 200-byte topics and PRUNEs for
    /// distinct topics (each RPC under 1 MiB, as on the wire). Before: one key per topic
    /// in `topicIndex` and `backoff`, kept after unsubscribe and disconnect.
    @Test func subscriptionAndPruneFloodsStayUnderTheCapsAndLeaveWithThePeer() throws {
        let config = GossipsubRouter.Configuration()
        var (r, peers) = Self.router(config, peers: 12)
        for (i, p) in peers.enumerated() {
            for batch in 0..<3 {
                let base = (i * 3 + batch) * 5_000
                let subs = Self.subscriptionFlood(base..<(base + 5_000))
                #expect(subs.encoded.count < PubSubRPC.maxLength)
                _ = r.handle(try PubSubRPC(decoding: subs.encoded), from: p, now: .zero)
                for half in [base..<(base + 2_500), (base + 2_500)..<(base + 5_000)] {  // a PRUNE is 217 bytes
                    _ = r.handle(try PubSubRPC(decoding: Self.pruneFlood(half).encoded), from: p, now: .zero)
                }
            }
        }
        let size = r.stateSize
        #expect(size.subscriptions <= peers.count * config.maxSubscriptionsPerPeer)
        #expect(size.topics <= config.maxPeerTopics)
        #expect(size.topics == config.maxPeerTopics)  // 12 × 2,048 would pass it: the node cap bit
        #expect(size.backoffEntries == 0 && size.backoffTopics == 0)  // PRUNEs for topics we do not subscribe to
        // The 15,000th topic of one peer was not recorded.
        #expect(r.peers(subscribedTo: Self.floodTopic(14_999)).isEmpty)

        // A full table still records subscriptions to this node's own topics.
        let honest = PeerKeyPair().peerID
        _ = r.addPeer(honest)
        _ = r.handle(PubSubRPC(subscriptions: [.init(subscribe: true, topic: Self.topic)]), from: honest, now: .zero)
        #expect(r.peers(subscribedTo: Self.topic) == [honest])

        for p in peers { r.removePeer(p) }
        let after = r.stateSize
        #expect(after.peers == 1 && after.topics == 1 && after.subscriptions == 1)
    }

    @Test func unsubscribingRemovesTheTopicKey() {
        var (r, peers) = Self.router(peers: 1)
        _ = r.handle(PubSubRPC(subscriptions: [.init(subscribe: true, topic: "user:a")]), from: peers[0], now: .zero)
        #expect(r.stateSize.topics == 1)
        _ = r.handle(PubSubRPC(subscriptions: [.init(subscribe: false, topic: "user:a")]), from: peers[0], now: .zero)
        #expect(r.stateSize.topics == 0 && r.stateSize.subscriptions == 0)
    }

    @Test func topicNamesAreValidatedOnReceipt() {
        var config = GossipsubRouter.Configuration()
        config.acceptsTopic = { Topic.isValid($0) }
        var (r, peers) = Self.router(config, peers: 1)
        let names = ["", String(repeating: "a", count: config.maxTopicLength + 1), "user:a\u{0}b", "user:\u{7F}",
                     "not-a-vivim-topic", "user:" + String(repeating: "a", count: 257)]
        _ = r.handle(PubSubRPC(subscriptions: names.map { .init(subscribe: true, topic: $0) }), from: peers[0], now: .zero)
        #expect(r.stateSize.topics == 0)
        _ = r.handle(PubSubRPC(subscriptions: [.init(subscribe: true, topic: "user:alice")]), from: peers[0], now: .zero)
        #expect(r.peers(subscribedTo: "user:alice") == [peers[0]])
        // Without the VIVIM filter any bounded, printable name is accepted.
        var (plain, others) = Self.router(peers: 1)
        _ = plain.handle(PubSubRPC(subscriptions: names.map { .init(subscribe: true, topic: $0) }), from: others[0], now: .zero)
        #expect(plain.stateSize.topics == 2)  // "not-a-vivim-topic" and the 262-byte user: name
    }

    @Test func subscriptionsPerPeerAreCapped() {
        var config = GossipsubRouter.Configuration()
        config.maxSubscriptionsPerPeer = 10
        var (r, peers) = Self.router(config, peers: 2)
        _ = r.handle(Self.subscriptionFlood(0..<50), from: peers[0], now: .zero)
        _ = r.handle(Self.subscriptionFlood(0..<5), from: peers[1], now: .zero)
        #expect(r.stateSize.subscriptions == 15)
        #expect(r.stateSize.topics == 10)
        // The node's own topic is recorded beyond the cap.
        _ = r.handle(PubSubRPC(subscriptions: [.init(subscribe: true, topic: Self.topic)]), from: peers[0], now: .zero)
        #expect(r.peers(subscribedTo: Self.topic) == [peers[0]])
    }

    // MARK: backoff

    /// PRUNE's backoff is clamped to `maxPruneBackoff`; the entry is removed (key and all)
    /// once it expires, and the peer can be grafted again.
    @Test func pruneBackoffIsClampedAndItsEntryExpires() {
        var config = GossipsubRouter.Configuration()
        config.dLow = 1
        config.d = 1
        var (r, peers) = Self.router(config, peers: 1)
        let peer = peers[0]
        var rng = SplitMix64(seed: 2)
        _ = r.handle(PubSubRPC(subscriptions: [.init(subscribe: true, topic: Self.topic)]), from: peer, now: .zero)
        _ = r.heartbeat(now: .zero, rng: &rng)
        #expect(r.mesh[Self.topic] == [peer])
        _ = r.handle(Self.pruneFloodOwn(backoff: .max), from: peer, now: .zero)
        #expect(r.mesh[Self.topic]?.isEmpty == true)
        #expect(r.stateSize.backoffEntries == 1)
        let limit = config.maxPruneBackoff
        _ = r.heartbeat(now: .zero + limit - .seconds(1), rng: &rng)
        #expect(r.mesh[Self.topic]?.isEmpty == true)  // still backing off
        _ = r.heartbeat(now: .zero + limit + .seconds(1), rng: &rng)
        #expect(r.mesh[Self.topic] == [peer])
        #expect(r.stateSize.backoffEntries == 0 && r.stateSize.backoffTopics == 0)
    }

    static func pruneFloodOwn(backoff: UInt64?) -> PubSubRPC {
        var control = PubSubRPC.Control()
        control.prune = [.init(topic: topic, peers: [], backoff: backoff)]
        return PubSubRPC(control: control)
    }

    @Test func backoffTableIsBoundedInTotal() {
        var config = GossipsubRouter.Configuration()
        config.maxBackoffEntries = 10
        var (r, peers) = Self.router(config, peers: 30)
        var rng = SplitMix64(seed: 3)
        for t in 0..<5 { _ = r.subscribe("circle:\(t + 2)", now: .zero, rng: &rng) }
        for p in peers {
            var control = PubSubRPC.Control()
            control.prune = (1...6).map { .init(topic: "circle:\($0)", peers: [], backoff: 60) }
            _ = r.handle(PubSubRPC(control: control), from: p, now: .zero)
        }
        #expect(r.stateSize.backoffEntries == 10)
        _ = r.heartbeat(now: .zero + .seconds(61), rng: &rng)
        #expect(r.stateSize.backoffEntries == 0 && r.stateSize.backoffTopics == 0)
    }

    // MARK: control messages

    @Test func ihaveIsBoundedPerHeartbeat() {
        var config = GossipsubRouter.Configuration()
        config.maxIHaveLength = 300
        config.maxIHaveMessages = 3
        var (r, peers) = Self.router(config, peers: 1)
        var control = PubSubRPC.Control()
        control.ihave = (0..<20).map { n in
            .init(topic: Self.topic, messageIDs: (0..<100).map { [UInt8(n), UInt8($0)] } + [[UInt8](repeating: 1, count: 300)])
        }
        let first = Self.sends(r.handle(PubSubRPC(control: control), from: peers[0], now: .zero))
        let asked = first.flatMap { $0.1.control?.iwant ?? [] }
        #expect(asked.count == 300)
        #expect(asked.allSatisfy { $0.count == 2 && $0[0] < 3 })  // the first 3 IHAVEs, no oversized id
        #expect(Self.sends(r.handle(PubSubRPC(control: control), from: peers[0], now: .zero)).isEmpty)
        var rng = SplitMix64(seed: 4)
        _ = r.heartbeat(now: .zero + .seconds(1), rng: &rng)
        let again = Self.sends(r.handle(PubSubRPC(control: control), from: peers[0], now: .zero + .seconds(1)))
        #expect(again.flatMap { $0.1.control?.iwant ?? [] }.count == 300)
    }

    @Test func iwantIsAnsweredAtMostGossipRetransmissionTimes() throws {
        var (r, peers) = Self.router(peers: 1)
        var rng = SplitMix64(seed: 5)
        let (id, _) = try r.publish(Self.topic, data: [1], now: .zero, rng: &rng)
        var control = PubSubRPC.Control()
        control.iwant = [id, id]
        var answered = 0
        for _ in 0..<5 {
            answered += Self.sends(r.handle(PubSubRPC(control: control), from: peers[0], now: .zero)).flatMap(\.1.messages).count
        }
        #expect(answered == GossipsubRouter.Configuration().gossipRetransmission)
    }

    @Test func graftForATopicNotSubscribedIsIgnored() {
        var (r, peers) = Self.router(peers: 1)
        var control = PubSubRPC.Control()
        control.graft = (0..<1_000).map { Self.floodTopic($0) }
        #expect(Self.sends(r.handle(PubSubRPC(control: control), from: peers[0], now: .zero)).isEmpty)
        #expect(r.stateSize.topics == 0 && r.stateSize.meshTopics == 1)
    }

    // MARK: seen and message caches

    @Test func invalidMessagesAreNeitherSeenNorCached() throws {
        let (base, peers) = Self.router(peers: 1)
        var r = base
        let author = PeerKeyPair()
        var forged = try PubSubRPC.Message.signed(by: author, data: [1], seqno: 1, topic: Self.topic)
        forged.data = [2]
        _ = r.handle(PubSubRPC(messages: [forged]), from: peers[0], now: .zero)
        #expect(r.stateSize.seenMessages == 0 && r.stateSize.cachedMessages == 0)
        // The genuine message with the same id is still accepted afterwards.
        let genuine = try PubSubRPC.Message.signed(by: author, data: [1], seqno: 1, topic: Self.topic)
        let actions = r.handle(PubSubRPC(messages: [genuine]), from: peers[0], now: .zero)
        #expect(actions.contains { if case .deliver = $0 { true } else { false } })
        #expect(r.stateSize.seenMessages == 1 && r.stateSize.cachedMessages == 1)
    }

    @Test func messagesOnTopicsNotSubscribedAreDroppedUnverified() throws {
        let calls = CallCounter()
        var r = GossipsubRouter(identity: PeerKeyPair(), validator: { m in calls.increment(); return m.verifiedAuthor() })
        let peer = PeerKeyPair().peerID
        _ = r.addPeer(peer)
        let m = try PubSubRPC.Message.signed(by: PeerKeyPair(), data: [UInt8](repeating: 7, count: 1_000), seqno: 1, topic: "elsewhere")
        #expect(r.handle(PubSubRPC(messages: [m]), from: peer, now: .zero).isEmpty)
        #expect(calls.value == 0)
        #expect(r.stateSize.seenMessages == 0 && r.stateSize.cachedMessages == 0)
    }

    @Test func seenAndMessageCachesAreBoundedInCountAndBytes() throws {
        var config = GossipsubRouter.Configuration()
        config.maxSeenMessages = 50
        config.maxCachedMessages = 20
        config.maxCachedBytes = 10 * 1_200
        var (r, _) = Self.router(config, peers: 0)
        var rng = SplitMix64(seed: 6)
        var ids: [[UInt8]] = []
        for n in 0..<120 {
            ids.append(try r.publish(Self.topic, data: [UInt8](repeating: UInt8(n), count: n < 60 ? 10 : 1_000), now: .zero, rng: &rng).0)
        }
        #expect(r.stateSize.seenMessages == 50)
        #expect(r.stateSize.cachedMessages == 20)  // the 20 small ones fill the count first
        #expect(r.stateSize.cachedBytes <= config.maxCachedBytes)
        // The oldest ids went first.
        var control = PubSubRPC.Control()
        control.ihave = [.init(topic: Self.topic, messageIDs: [ids[0], ids[119]])]
        let peer = PeerKeyPair().peerID
        _ = r.addPeer(peer)
        let asked = Self.sends(r.handle(PubSubRPC(control: control), from: peer, now: .zero)).flatMap { $0.1.control?.iwant ?? [] }
        #expect(asked == [ids[0]])

        var small = GossipsubRouter.Configuration()
        small.maxSeenBytes = 10 * 46
        var (s, _) = Self.router(small, peers: 0)
        for n in 0..<30 { _ = try s.publish(Self.topic, data: [UInt8(n)], now: .zero, rng: &rng) }
        #expect(s.stateSize.seenBytes <= small.maxSeenBytes)
        #expect(s.stateSize.seenMessages == small.maxSeenBytes / ids[0].count)
        // And the cache drains with the heartbeats.
        for k in 1...10 { _ = r.heartbeat(now: .zero + .seconds(Int64(k)), rng: &rng) }
        #expect(r.stateSize.cachedMessages == 0 && r.stateSize.cachedBytes == 0)
    }

    @Test func verifiedMessagesAreBoundedAndKeepNoInvalidPayload() async throws {
        let verified = VerifiedMessages(capacity: 8, invalidCapacity: 4)
        let author = PeerKeyPair()
        var genuine: [PubSubRPC.Message] = []
        var forged: [PubSubRPC.Message] = []
        for n in 0..<30 {
            let m = try PubSubRPC.Message.signed(by: author, data: [UInt8(n)], seqno: UInt64(n + 1), topic: "t")
            genuine.append(m)
            var f = m
            f.data = [UInt8](repeating: 0xEE, count: 64 << 10)
            forged.append(f)
        }
        await verified.verify(genuine + forged)
        let counts = verified.counts
        #expect(counts.valid <= 16 && counts.valid >= 8)
        #expect(counts.invalid <= 8 && counts.invalid >= 4)
        #expect(verified.outcome(of: forged[29]) == .invalid)
        #expect(verified.author(of: genuine[29]) == author.peerID)
        // An expired generation is forgotten.
        let shortLived = VerifiedMessages(ttl: .milliseconds(1))
        await shortLived.verify([genuine[0], forged[0]])
        try await Task.sleep(for: .milliseconds(5))
        #expect(shortLived.outcome(of: genuine[0]) == nil && shortLived.outcome(of: forged[0]) == nil)
        #expect(shortLived.counts.valid == 0 && shortLived.counts.invalid == 0)
    }

    // MARK: extreme values

    /// SPEC §8.1 / issue 11: extreme values in every numeric field of every RPC part
    /// (subscribe flag, seqno, PRUNE backoff, lengths and counts, the clock) go through the
    /// decoder and the router without a trap, and the state stays under the caps.
    @Test func extremeValuesInEveryNumericFieldNeverTrapAndStateStaysBounded() async throws {
        var config = GossipsubRouter.Configuration()
        config.maxSubscriptionsPerPeer = 4
        config.maxPeerTopics = 6
        let author = PeerKeyPair()
        // PubSubService's signature cache, fed the same messages off the router.
        let verified = VerifiedMessages(capacity: 4, invalidCapacity: 2)
        for v in extremeWireValues {
            var (r, peers) = Self.router(config, peers: 2)
            let peer = peers[0]
            let now = NetworkInstant(nanoseconds: v)
            var rng = SplitMix64(seed: v)
            var inputs: [[UInt8]] = []
            // Subscription: the subscribe flag as any varint.
            var sub = ProtobufWriter()
            sub.writeVarint(field: 1, v)
            sub.writeString(field: 2, "t\(v)")
            var rpc = ProtobufWriter()
            rpc.writeBytes(field: 1, sub.bytes)
            // A message whose seqno is v (8 bytes, as StrictSign requires), and one whose seqno is
            // v truncated to 4 bytes.
            rpc.writeBytes(field: 2, try PubSubRPC.Message.signed(by: author, data: [1], seqno: v, topic: Self.topic).encoded)
            var short = PubSubRPC.Message(from: author.peerID.bytes, data: [2], seqno: [], topic: Self.topic)
            short.seqno.appendUInt32BE(UInt32(truncatingIfNeeded: v))
            rpc.writeBytes(field: 2, short.encoded)
            // Control: IHAVE/IWANT ids, GRAFT, and PRUNE with backoff v.
            var control = PubSubRPC.Control()
            control.ihave = [.init(topic: Self.topic, messageIDs: [withUnsafeBytes(of: v.bigEndian, Array.init)])]
            control.iwant = [withUnsafeBytes(of: v.bigEndian, Array.init)]
            control.graft = [Self.topic, "t\(v)"]
            control.prune = [.init(topic: Self.topic, peers: [author.peerID], backoff: v), .init(topic: "t\(v)", peers: [], backoff: v)]
            let valid = rpc.bytes + PubSubRPC(control: control).encoded
            inputs.append(valid)
            // Lengths and counts: a length prefix of v for a subscription, a message, the control
            // part and a PRUNE (truncated to what a varint holds: all of them).
            for field: UInt64 in [1, 2, 3] {
                var w = [UInt8]()
                UVarint.encode(field << 3 | 2, into: &w)
                UVarint.encode(v, into: &w)
                inputs.append(w + [0x08, 0x01])
            }
            var prune = [UInt8](arrayLiteral: 0x22)
            UVarint.encode(v, into: &prune)
            var ctl = [UInt8](arrayLiteral: 0x1a)
            UVarint.encode(UInt64(prune.count + 2), into: &ctl)
            inputs.append(ctl + prune + [0x0a, 0x00])
            for input in inputs {
                guard let decoded = try? PubSubRPC(decoding: input) else { continue }
                await verified.verify(decoded.messages)
                for m in decoded.messages { _ = verified.validate(m) }
                _ = r.handle(decoded, from: peer, now: now)
                _ = r.handle(decoded, from: peers[1], now: now)
            }
            _ = r.heartbeat(now: now, rng: &rng)
            _ = try r.publish(Self.topic, data: [3], now: now, rng: &rng)
            let size = r.stateSize
            #expect(size.subscriptions <= 2 * config.maxSubscriptionsPerPeer)
            #expect(size.topics <= config.maxPeerTopics)
            #expect(size.backoffEntries <= 2)  // only the node's own topic, per peer
            // However large the backoff asked for, it ends within maxPruneBackoff.
            _ = r.heartbeat(now: now + config.maxPruneBackoff + .seconds(1), rng: &rng)
            #expect(r.stateSize.backoffEntries == 0)
            r.removePeer(peer)
            r.removePeer(peers[1])
            #expect(r.stateSize.topics == 0 && r.stateSize.subscriptions == 0 && r.stateSize.peers == 0)
        }
        #expect(verified.counts.valid <= 8 && verified.counts.invalid <= 4)
    }

    // MARK: wire tolerance (SPEC §8.1)

    /// As go-libp2p (gogo, proto2) emits it: explicit `subscribe: false`, IHAVE, IWANT, GRAFT,
    /// and a PRUNE with a peer-exchange record (peer id + signed peer record) and backoff 60.
    @Test func decodesGoLibp2pProto2Bytes() throws {
        let rpc = try PubSubRPC(decoding: fromHex(
            "0a0508011201610a0508001201621a440a070a01611202010212030a01031a030a0161222f0a016112280a22122011111111"
                + "1111111111111111111111111111111111111111111111111111111112020a0b183c"))
        #expect(rpc.subscriptions == [.init(subscribe: true, topic: "a"), .init(subscribe: false, topic: "b")])
        let c = try #require(rpc.control)
        #expect(c.ihave == [.init(topic: "a", messageIDs: [[1, 2]])])
        #expect(c.iwant == [[3]])
        #expect(c.graft == ["a"])
        #expect(c.prune.count == 1 && c.prune[0].topic == "a" && c.prune[0].backoff == 60)
        #expect(c.prune[0].peers.map(\.bytes) == [[0x12, 0x20] + [UInt8](repeating: 0x11, count: 32)])
    }

    /// As js-libp2p (protons, proto3) emits it: `subscribe: false` and a zero backoff omitted,
    /// and an IDONTWANT (gossipsub v1.2, control field 5) this node does not speak.
    @Test func decodesJsLibp2pProto3BytesWithDefaultsOmitted() throws {
        let rpc = try PubSubRPC(decoding: fromHex("0a031201621a0b22030a01612a040a020909"))
        #expect(rpc.subscriptions == [.init(subscribe: false, topic: "b")])
        #expect(rpc.control?.prune == [.init(topic: "a", peers: [], backoff: nil)])
        #expect(rpc.control?.ihave.isEmpty == true && rpc.control?.iwant.isEmpty == true)
    }

    /// Unknown fields of every wire type at every nesting level are skipped, and a control
    /// part sent twice is merged (protobuf: embedded messages merge).
    @Test func skipsUnknownFieldsAtEveryLevelAndMergesRepeatedControl() throws {
        let rpc = try PubSubRPC(decoding: fromHex(
            "7d010203040a10080112016148075100000000000000001a420a080a016138011201014a027a7a22320a016118051226"
                + "0a221220111111111111111111111111111111111111111111111111111111111111111118014d000000001a071a05"
                + "0a01611003980601"))
        #expect(rpc.subscriptions == [.init(subscribe: true, topic: "a")])
        let c = try #require(rpc.control)
        #expect(c.ihave == [.init(topic: "a", messageIDs: [[1]])])
        #expect(c.prune.count == 1 && c.prune[0].backoff == 5 && c.prune[0].peers.count == 1)
        #expect(c.graft == ["a"])
    }

    @Test func keepsAtMostMaxPrunePeersExchangeRecords() throws {
        var control = PubSubRPC.Control()
        control.prune = [.init(topic: "a", peers: (0..<300).map { _ in PeerKeyPair().peerID }, backoff: 1)]
        let decoded = try PubSubRPC(decoding: PubSubRPC(control: control).encoded)
        #expect(decoded.control?.prune.first?.peers.count == PubSubRPC.maxPrunePeers)
    }
}

/// A thread-safe call counter for validators.
final class CallCounter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}

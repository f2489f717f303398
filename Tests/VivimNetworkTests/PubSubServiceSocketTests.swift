import Testing
@testable import VivimNetwork

/// `GossipsubRouter` behind `PubSubService` on real loopback sockets.
@Suite(.timeLimit(.minutes(1))) struct PubSubServiceSocketTests {
    static func collect(_ service: PubSubService, count: Int, within limit: Duration = .seconds(10)) async -> [PubSubService.Delivery] {
        await withTaskGroup(of: [PubSubService.Delivery].self) { group in
            group.addTask {
                var got: [PubSubService.Delivery] = []
                for await d in service.messages {
                    got.append(d)
                    if got.count == count { break }
                }
                return got
            }
            group.addTask { try? await Task.sleep(for: limit); return [] }
            let first = await group.next() ?? []
            group.cancelAll()
            return first
        }
    }

    @Test func everyNodeOfAChainReceivesEveryMessageOnce() async throws {
        let topic = "network:announce"
        var config = GossipsubRouter.Configuration()
        config.heartbeatInterval = .milliseconds(100)
        var hosts: [P2PHost] = [], services: [PubSubService] = [], addrs: [Multiaddr] = []
        for _ in 0..<8 {
            let host = P2PHost(identity: PeerKeyPair())
            addrs.append(try await host.listen())
            let service = PubSubService(host: host, configuration: config)
            await service.start()
            await service.subscribe(topic)
            hosts.append(host)
            services.append(service)
        }
        // A chain 0 - 1 - … - 7: messages must be relayed hop by hop.
        for i in 1..<hosts.count { _ = try await hosts[i].dial(addrs[i - 1]) }
        for _ in 0..<100 {
            var ready = true
            for s in services where await s.mesh(topic).isEmpty { ready = false }
            if ready { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let receivers = Array(services.dropFirst())
        let collecting = Task {
            await withTaskGroup(of: Int.self) { group in
                for s in receivers { group.addTask { Set(await Self.collect(s, count: 3).map(\.data)).count } }
                return await group.reduce(into: [Int]()) { $0.append($1) }
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        for n in 0..<3 { try await services[0].publish(topic, Array("announce \(n)".utf8)) }
        let counts = await collecting.value
        #expect(counts == Array(repeating: 3, count: 7))
        for s in services { await s.stop() }
        for h in hosts { await h.shutdown() }
    }

    /// RPCs are verified several at a time off the actor; they must still reach the
    /// router, and the subscriber, in the order the peer sent them, and an invalid
    /// message among them is dropped.
    /// A node running PubSubService subscribed to `topic`, and a peer with a gossip stream
    /// open to it (whatever the node sends that peer is read and dropped).
    static func subscribedNode(_ topic: String) async throws -> (node: P2PHost, service: PubSubService, peer: P2PHost, stream: P2PStream) {
        let node = P2PHost(identity: PeerKeyPair())
        let addr = try await node.listen()
        let service = PubSubService(host: node)
        await service.start()
        await service.subscribe(topic)
        let peer = P2PHost(identity: PeerKeyPair())
        peer.handle(PubSubRPC.protocolID) { stream in
            for _ in 0..<Int.max { guard try await stream.read() != nil else { break } }
        }
        let stream = try await peer.dial(addr).openStream(PubSubRPC.protocolID)
        return (node, service, peer, stream)
    }

    @Test func deliversOnePeersMessagesInOrderWhileVerifyingAhead() async throws {
        let topic = "t"
        let (node, service, source, stream) = try await Self.subscribedNode(topic)
        try await stream.write(VarintFrame.encode(PubSubRPC(subscriptions: [.init(subscribe: true, topic: topic)]).encoded))
        let author = PeerKeyPair()
        var expected: [[UInt8]] = []
        var frames: [UInt8] = []
        for n in 0..<200 {
            // RPCs of 1 to 40 messages, so verification tasks of different lengths overlap.
            var rpc = PubSubRPC()
            for k in 0..<(n % 40 + 1) {
                let data = Array("m\(n).\(k)".utf8)
                var m = try PubSubRPC.Message.signed(by: author, data: data, seqno: UInt64(n * 100 + k + 1), topic: topic)
                // One forged message (a few would graylist the sender, by design).
                if n == 5 && k == 3 { m.data = Array("forged".utf8) } else { expected.append(data) }
                rpc.messages.append(m)
            }
            frames += VarintFrame.encode(rpc.encoded)
        }
        let count = expected.count
        // A generous bound (it returns as soon as all arrive): a loaded 2-core CI verifies slowly.
        let collecting = Task { await Self.collect(service, count: count, within: .seconds(60)) }
        try await stream.write(frames)
        let got = await collecting.value
        #expect(got.count == expected.count)
        #expect(zip(got, expected).allSatisfy { $0.data == $1 })
        #expect(got.allSatisfy { $0.author == author.peerID })
        await service.stop()
        await node.shutdown()
        await source.shutdown()
    }

    /// Security-review finding 11 on real sockets: a peer sends RPCs of 5,000 subscriptions to
    /// distinct 200-byte topics and PRUNEs for distinct topics. Before: every topic stayed in
    /// the router (also after the peer left). Now: its subscriptions are capped and its
    /// state goes when it disconnects.
    @Test func aSubscriptionAndPruneFloodIsCappedAndLeavesWithThePeer() async throws {
        let topic = "t"
        let (node, service, attacker, stream) = try await Self.subscribedNode(topic)
        func name(_ n: Int) -> String { let tag = "flood-\(n)-"; return tag + String(repeating: "x", count: 200 - tag.utf8.count) }
        for batch in 0..<4 {
            let range = (batch * 5_000)..<((batch + 1) * 5_000)
            try await stream.write(VarintFrame.encode(PubSubRPC(subscriptions: range.map { .init(subscribe: true, topic: name($0)) }).encoded))
            for half in [range.prefix(2_500), range.dropFirst(2_500)] {  // a PRUNE is 217 bytes
                var control = PubSubRPC.Control()
                control.prune = half.map { .init(topic: name($0), peers: [], backoff: .max) }
                try await stream.write(VarintFrame.encode(PubSubRPC(control: control).encoded))
            }
        }
        // RPCs are handled in order: once the last one is in, the flood was handled.
        try await stream.write(VarintFrame.encode(PubSubRPC(subscriptions: [.init(subscribe: true, topic: topic)]).encoded))
        let peer = attacker.identity.peerID
        for _ in 0..<200 where await !service.peers(subscribedTo: topic).contains(peer) {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(await service.peers(subscribedTo: topic) == [peer])
        #expect(await service.peers(subscribedTo: name(19_999)).isEmpty)
        let size = await service.stateSize
        let limits = GossipsubRouter.Configuration()
        #expect(size.subscriptions <= limits.maxSubscriptionsPerPeer + 1)
        #expect(size.topics <= limits.maxSubscriptionsPerPeer + 1)
        #expect(size.backoffEntries == 0)

        await attacker.shutdown()
        for _ in 0..<200 where await !service.peers.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        let after = await service.stateSize
        #expect(after.peers == 0 && after.topics == 0 && after.subscriptions == 0)
        await service.stop()
        await node.shutdown()
    }

    /// A peer that stops reading cannot grow the node's memory: once its queue passes the
    /// bound it is dropped from gossipsub (before: RPCs piled up to 8 MiB and it stayed).
    @Test func aPeerThatCannotKeepUpIsDropped() async throws {
        let topic = "t"
        var config = GossipsubRouter.Configuration()
        config.maxQueuedBytesPerPeer = 64 << 10
        let node = P2PHost(identity: PeerKeyPair())
        let addr = try await node.listen()
        let service = PubSubService(host: node, configuration: config)
        await service.start()
        await service.subscribe(topic)
        let sink = P2PHost(identity: PeerKeyPair())
        sink.handle(PubSubRPC.protocolID) { _ in try await Task.sleep(for: .seconds(60)) }  // never reads
        let stream = try await sink.dial(addr).openStream(PubSubRPC.protocolID)
        try await stream.write(VarintFrame.encode(PubSubRPC(subscriptions: [.init(subscribe: true, topic: topic)]).encoded))
        let peer = sink.identity.peerID
        for _ in 0..<200 where await !service.peers(subscribedTo: topic).contains(peer) {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(await service.peers.contains(peer))
        // 4 MiB in 1 KiB messages: far beyond the yamux window and the queue bound.
        for n in 0..<4_096 where await service.peers.contains(peer) {
            try await service.publish(topic, [UInt8](repeating: UInt8(truncatingIfNeeded: n), count: 1_024))
            if n % 64 == 0 { await Task.yield() }
        }
        for _ in 0..<100 where await service.peers.contains(peer) { try await Task.sleep(for: .milliseconds(50)) }
        #expect(await !service.peers.contains(peer))
        await service.stop()
        await sink.shutdown()
        await node.shutdown()
    }
}

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
    @Test func deliversOnePeersMessagesInOrderWhileVerifyingAhead() async throws {
        let topic = "t"
        let node = P2PHost(identity: PeerKeyPair())
        let addr = try await node.listen()
        let service = PubSubService(host: node)
        await service.start()
        await service.subscribe(topic)
        let source = P2PHost(identity: PeerKeyPair())
        source.handle(PubSubRPC.protocolID) { stream in
            for _ in 0..<Int.max { guard try await stream.read() != nil else { break } }
        }
        let stream = try await source.dial(addr).openStream(PubSubRPC.protocolID)
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
}

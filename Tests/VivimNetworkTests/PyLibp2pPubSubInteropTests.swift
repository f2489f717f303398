import Testing
@testable import VivimNetwork

/// Gossipsub across implementations: signed messages published on a VIVIM
/// `PubSubService` reach py-libp2p's GossipSub and vice versa.
@Suite(.serialized, .timeLimit(.minutes(2))) struct PyLibp2pPubSubInteropTests {
    @Test func messagesAreDeliveredInBothDirections() async throws {
        try PyProcess.requirePyLibp2p()
        let topic = "network:announce"
        let host = P2PHost(identity: PeerKeyPair())
        let address = try await host.listen()
        var config = GossipsubRouter.Configuration()
        config.heartbeatInterval = .milliseconds(200)
        let pubsub = PubSubService(host: host, configuration: config)
        await pubsub.start()
        await pubsub.subscribe(topic)
        let py = try PyProcess([PyProcess.script("py_pubsub.py"), address.description, topic])
        defer { py.stop() }
        let pyPeer = try PeerID(string: try await py.line("READY"))

        // Wait (bounded) until py-libp2p is in our mesh for the topic.
        for _ in 0..<100 where await !pubsub.mesh(topic).contains(pyPeer) {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(await pubsub.mesh(topic).contains(pyPeer))

        // VIVIM → py
        let fromVivim = Array("hello from vivim".utf8)
        try await pubsub.publish(topic, fromVivim)
        let line = try await py.line("MSG")
        #expect(line == "\(host.peerID) \(hex(fromVivim))")

        // py → VIVIM: StrictSign-verified, author is the py peer.
        let fromPy = Array("hello from py-libp2p".utf8)
        let receiving = Task { () -> PubSubService.Delivery? in
            for await d in pubsub.messages { return d }
            return nil
        }
        try py.send("publish \(hex(fromPy))")
        _ = try await py.line("PUBLISHED")
        let delivered = try await withThrowingTaskGroup(of: PubSubService.Delivery?.self) { group in
            group.addTask { await receiving.value }
            group.addTask { try await Task.sleep(for: .seconds(15)); receiving.cancel(); return nil }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
        #expect(delivered?.data == fromPy)
        #expect(delivered?.author == pyPeer)
        #expect(delivered?.topic == topic)
        await pubsub.stop()
        await host.shutdown()
    }
}

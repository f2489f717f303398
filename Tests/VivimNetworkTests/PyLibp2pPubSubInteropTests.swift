import Testing
@testable import VivimNetwork

/// Gossipsub across implementations: signed messages published on a VIVIM
/// `PubSubService` reach py-libp2p's GossipSub and vice versa, on a connection
/// dialled by either side.
@Suite(.serialized, .timeLimit(.minutes(3))) struct PyLibp2pPubSubInteropTests {
    @Test func messagesAreDeliveredInBothDirectionsWhenPyDials() async throws {
        try await Self.exchange(vivimDials: false)
    }

    @Test func messagesAreDeliveredInBothDirectionsWhenVivimDials() async throws {
        try await Self.exchange(vivimDials: true)
    }

    static func exchange(vivimDials: Bool) async throws {
        try PyProcess.requirePyLibp2p()
        let topic = "network:announce"
        let host = P2PHost(identity: PeerKeyPair())
        let address = try await host.listen()
        var config = GossipsubRouter.Configuration()
        config.heartbeatInterval = .milliseconds(200)
        let pubsub = PubSubService(host: host, configuration: config)
        await pubsub.start()
        await pubsub.subscribe(topic)
        let py = try PyProcess([PyProcess.script("py_pubsub.py"), vivimDials ? "listen" : address.description, topic])
        defer { py.stop() }
        let ready = try await py.line("READY").split(separator: " ").map(String.init)
        try #require(ready.count == 2)
        let pyPeer = try PeerID(string: ready[0])
        if vivimDials {
            #expect(host.connections(to: pyPeer).isEmpty)
            let connection = try await host.dial(try Multiaddr(ready[1]))
            #expect(connection.remotePeer == pyPeer)
        }

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

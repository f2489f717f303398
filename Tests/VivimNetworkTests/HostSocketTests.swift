import NIOCore
import NIOPosix
import Testing
@testable import VivimNetwork

/// Two VIVIM hosts on 127.0.0.1 over real TCP sockets.
@Suite(.timeLimit(.minutes(1))) struct HostSocketTests {
    static let echoProtocol = "/vivim/test-echo/1.0.0"

    static func makeHost() -> P2PHost {
        let host = P2PHost(identity: PeerKeyPair())
        host.handle(echoProtocol) { stream in
            var reader = StreamReader(stream)
            // Echo frames until the peer half-closes; bounded by what the peer sends.
            while let frame = try await reader.readFrame(maxLength: 1 << 20) {
                try await stream.write(VarintFrame.encode(frame))
            }
            stream.closeWrite()
        }
        return host
    }

    @Test func dialsAuthenticatesAndIdentifiesBothWays() async throws {
        let a = Self.makeHost(), b = Self.makeHost()
        let addr = try await b.listen(host: "127.0.0.1", port: 0)
        let conn = try await a.dial(addr)
        #expect(conn.remotePeer == b.peerID)

        let info = try await conn.identify()
        #expect(info.publicKey == b.identity.publicKey)
        #expect(info.protocols.contains(PingProtocol.protocolID))
        #expect(info.protocols.contains(Self.echoProtocol))
        #expect(info.listenAddrs == [addr.withoutPeerID])
        #expect(info.observedAddr?.tcpEndpoint?.host == "127.0.0.1")
        #expect(info.agentVersion == "vivim/0.1.0")

        // The listener can open streams on the same connection (even yamux ids).
        let back = try #require(b.connections(to: a.peerID).first)
        let reverse = try await back.identify()
        #expect(reverse.publicKey == a.identity.publicKey)

        await a.shutdown(); await b.shutdown()
    }

    @Test func pingsWithIPFSPingAndYamuxPing() async throws {
        let a = Self.makeHost(), b = Self.makeHost()
        let conn = try await a.dial(try await b.listen())
        for _ in 0..<3 {
            let rtt = try await conn.ping()
            #expect(rtt < .seconds(5))
        }
        _ = try await conn.yamuxPing()
        await a.shutdown(); await b.shutdown()
    }

    @Test func carriesConcurrentStreamsWithFlowControl() async throws {
        let a = Self.makeHost(), b = Self.makeHost()
        let conn = try await a.dial(try await b.listen())
        // 8 streams × 1 MiB each: more than the 256 KiB window, so credit must flow back.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for s in 0..<8 {
                group.addTask {
                    let stream = try await conn.openStream(Self.echoProtocol)
                    #expect(stream.protocolID == Self.echoProtocol)
                    let frame = (0..<(64 * 1024)).map { UInt8(truncatingIfNeeded: $0 &+ s) }
                    var reader = StreamReader(stream)
                    for _ in 0..<16 {
                        try await stream.write(VarintFrame.encode(frame))
                        let echoed = try await reader.readFrame(maxLength: 1 << 20)
                        #expect(echoed == frame)
                    }
                    stream.closeWrite()
                    #expect(try await reader.readFrame(maxLength: 16) == nil)
                }
            }
            try await group.waitForAll()
        }
        await a.shutdown(); await b.shutdown()
    }

    @Test func forgetsStreamsOnceBothSidesAreDone() async throws {
        let a = Self.makeHost(), b = Self.makeHost()
        let conn = try await a.dial(try await b.listen())
        for _ in 0..<10 {
            _ = try await conn.ping()
            _ = try await conn.identify()
        }
        let back = try #require(b.connections(to: a.peerID).first)
        var tracked = (a: (buffers: -1, yamux: -1), b: (buffers: -1, yamux: -1))
        for _ in 0..<100 {
            tracked = (try await conn.trackedStreams(), try await back.trackedStreams())
            if tracked.a == (0, 0) && tracked.b == (0, 0) { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(tracked.a == (0, 0), "dialer still tracks \(tracked.a)")
        #expect(tracked.b == (0, 0), "listener still tracks \(tracked.b)")
        await a.shutdown(); await b.shutdown()
    }

    @Test func refusesConnectionsBeyondTheCap() async throws {
        var config = P2PHost.Configuration()
        config.maxInboundConnections = 2
        let server = P2PHost(identity: PeerKeyPair(), configuration: config)
        let addr = try await server.listen()
        let clients = (0..<3).map { _ in P2PHost(identity: PeerKeyPair()) }
        _ = try await clients[0].dial(addr)
        _ = try await clients[1].dial(addr)
        await #expect(throws: (any Error).self) { try await clients[2].dial(addr) }
        #expect(server.openConnectionCount == 2)
        for c in clients { await c.shutdown() }
        for _ in 0..<100 where server.openConnectionCount > 0 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(server.openConnectionCount == 0)
        await server.shutdown()
    }

    @Test func refusesAnUnsupportedProtocol() async throws {
        let a = Self.makeHost(), b = Self.makeHost()
        let conn = try await a.dial(try await b.listen())
        await #expect(throws: P2PError.self) { try await conn.openStream("/not/supported/1.0.0") }
        // The connection survives the refusal.
        _ = try await conn.ping()
        await a.shutdown(); await b.shutdown()
    }

    @Test func dialFailsWhenTheAddressNamesAnotherPeer() async throws {
        let a = Self.makeHost(), b = Self.makeHost()
        let addr = try await b.listen()
        let wrong = addr.withoutPeerID.appending(.p2p(PeerKeyPair().peerID))
        await #expect(throws: (any Error).self) { try await a.dial(wrong) }
        await a.shutdown(); await b.shutdown()
    }

    @Test func closesTheConnectionOnGarbage() async throws {
        let b = Self.makeHost()
        let addr = try await b.listen()
        let (host, port) = try #require(addr.tcpEndpoint)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: host, port: Int(port)).get()
        try await channel.writeAndFlush(channel.allocator.buffer(bytes: [0x7f] + [UInt8](repeating: 0x41, count: 127))).get()
        // The listener must hang up: wait (bounded) for the close.
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await channel.closeFuture.get() }
            group.addTask { try await Task.sleep(for: .seconds(5)); throw TestError(description: "listener kept a garbage connection open") }
            try await group.next()
            group.cancelAll()
        }
        await b.shutdown()
    }
}

import NIOCore
import NIOPosix
import Testing
@testable import VivimNetwork

/// Issue 11, security review findings 4 and 17: yamux refuses what it cannot hold from the
/// header alone, memory held per connection and per node is capped, and the P2P listener
/// has separate inbound/outbound caps, a per-IP cap, a handshake timeout and an idle timeout.
@Suite struct YamuxHardeningTests {
    static let goAwayProtocolError = YamuxHeader(type: .goAway, streamID: 0, length: YamuxGoAwayCode.protocolError.rawValue).encoded

    /// Finding 4's unit check: the old session buffered every byte after this header (up to 4 GiB).
    @Test func dataForAnUnknownStreamIsRefusedFromItsHeader() throws {
        var s = YamuxSession(role: .server)
        #expect(throws: YamuxError.receiveWindowExceeded(7)) {
            try s.receive(YamuxHeader(type: .data, streamID: 7, length: 0xFFFF_FFF0).encoded)
        }
        #expect(s.takeOutput() == Self.goAwayProtocolError)
        // Whatever the peer sends next is refused at once and never accumulates.
        for _ in 0..<4 {
            #expect(throws: YamuxError.sessionClosed) { try s.receive([UInt8](repeating: 0, count: 1 << 20)) }
            #expect(s.bufferedInputBytes == 0)
        }

        // A small frame for a stream the peer never opened (no SYN) is a protocol error too.
        var t = YamuxSession(role: .server)
        #expect(throws: YamuxError.unknownStream(7)) { try t.receive(YamuxHeader(type: .data, streamID: 7, length: 10).encoded) }
        #expect(t.takeOutput() == Self.goAwayProtocolError)
        // So is one naming a stream id of our own parity we never allocated.
        var c = YamuxSession(role: .client)
        #expect(throws: YamuxError.unknownStream(9)) { try c.receive(YamuxHeader(type: .data, streamID: 9, length: 10).encoded) }
    }

    /// Data in flight when we reset a stream is discarded as it arrives, unbuffered.
    @Test func dataForAResetStreamIsDiscardedWithoutBuffering() throws {
        var s = YamuxSession(role: .server)
        _ = try s.receive(YamuxHeader(type: .windowUpdate, flags: .syn, streamID: 1, length: 0).encoded)
        s.reset(1)
        _ = s.takeOutput()
        let length = Int(YamuxSession.initialWindow)
        var events = try s.receive(YamuxHeader(type: .data, streamID: 1, length: UInt32(length)).encoded)
        for _ in 0..<(length / 4096) {
            events += try s.receive([UInt8](repeating: 0xEE, count: 4096))
            #expect(s.bufferedInputBytes == 0)
        }
        #expect(events.isEmpty)
        // The frame boundary is kept: the next frame is decoded normally.
        events = try s.receive(YamuxHeader(type: .ping, flags: .syn, streamID: 0, length: 42).encoded)
        #expect(try YamuxHeader(decoding: s.takeOutput()) == YamuxHeader(type: .ping, flags: .ack, streamID: 0, length: 42))
        // More than one window for the forgotten stream is a protocol error.
        #expect(throws: YamuxError.receiveWindowExceeded(1)) {
            try s.receive(YamuxHeader(type: .data, streamID: 1, length: YamuxSession.initialWindow + 1).encoded)
        }
    }

    @Test func dataAfterFINIsRefusedFromItsHeader() throws {
        var s = YamuxSession(role: .server)
        _ = try s.receive(YamuxHeader(type: .windowUpdate, flags: [.syn, .fin], streamID: 1, length: 0).encoded)
        #expect(throws: YamuxError.self) { try s.receive(YamuxHeader(type: .data, streamID: 1, length: 1000).encoded) }
        #expect(s.bufferedInputBytes == 0)
    }

    /// The send side is bounded per session, not only per stream.
    @Test func sendBuffersAreBoundedPerSession() throws {
        var config = YamuxSession.Configuration()
        config.maxPendingSendBytesTotal = 400 * 1024
        var c = YamuxSession(role: .client, configuration: config)
        let a = try c.openStream(), b = try c.openStream()
        // The peer's window (256 KiB) is open but never refilled: the rest stays pending.
        try c.write(a, [UInt8](repeating: 1, count: 300 * 1024))
        try c.write(b, [UInt8](repeating: 2, count: 300 * 1024))
        #expect(c.pendingSendBytesTotal == 88 * 1024)
        #expect(throws: YamuxError.sendBufferFull(a)) { try c.write(a, [UInt8](repeating: 1, count: 400 * 1024)) }
        #expect(c.pendingSendBytesTotal == 88 * 1024)
    }

    /// Every field of every frame type at extreme values: the session throws a YamuxError
    /// or accepts, never traps, and its state stays bounded.
    @Test func extremeValuesInEveryYamuxField() throws {
        let bytes8 = Set(extremeWireValues.map { UInt8(truncatingIfNeeded: $0) } + [0, 1, 2, 3, 4])
        let bytes16 = Set(extremeWireValues.map { UInt16(truncatingIfNeeded: $0) } + [1, 2, 4, 8, 0xF])
        let words = Set(extremeWireValues.map { UInt32(truncatingIfNeeded: $0) } + [2, 3, YamuxSession.initialWindow])
        var frames = 0
        for version in [UInt8(0)] + bytes8.filter({ $0 != 0 }).prefix(2) {
            for type in bytes8 {
                for flags in bytes16 {
                    for id in words {
                        for length in words {
                            var header: [UInt8] = [version, type]
                            header.appendUInt16BE(flags)
                            header.appendUInt32BE(id)
                            header.appendUInt32BE(length)
                            for role in [YamuxSession.Role.server, .client] {
                                var s = YamuxSession(role: role)
                                // One stream of each parity exists, so known-stream paths are taken too.
                                _ = try? s.openStream()
                                _ = try? s.receive(YamuxHeader(type: .windowUpdate, flags: .syn, streamID: role == .server ? 1 : 2, length: 0).encoded)
                                do {
                                    _ = try s.receive(header + [UInt8](repeating: 0xA5, count: 64))
                                } catch {
                                    // A refusal must leave a GO_AWAY for the peer.
                                    #expect(s.localGoAway)
                                }
                                #expect(s.openStreamCount <= 3)
                                #expect(s.bufferedInputBytes <= YamuxHeader.length + 64)
                                #expect(s.pendingSendBytesTotal <= s.configuration.maxPendingSendBytesTotal)
                                frames += 1
                            }
                        }
                    }
                }
            }
        }
        #expect(frames > 1000)
    }

    /// Window updates at extreme deltas: overflow is a protocol error, never a trap.
    @Test func extremeWindowDeltasAndPingValues() throws {
        for value in extremeWireValues.map({ UInt32(truncatingIfNeeded: $0) }) {
            var s = YamuxSession(role: .server)
            _ = try s.receive(YamuxHeader(type: .windowUpdate, flags: .syn, streamID: 1, length: 0).encoded)
            _ = s.takeOutput()
            do {
                _ = try s.receive(YamuxHeader(type: .windowUpdate, streamID: 1, length: value).encoded)
                _ = try s.receive(YamuxHeader(type: .windowUpdate, streamID: 1, length: value).encoded)
            } catch {
                #expect(value > UInt32.max / 2 - YamuxSession.initialWindow)
                #expect(s.localGoAway)
            }
            var p = YamuxSession(role: .client)
            _ = try p.receive(YamuxHeader(type: .ping, flags: .syn, streamID: 0, length: value).encoded)
            #expect(try YamuxHeader(decoding: p.takeOutput()).length == value)
            #expect(try p.receive(YamuxHeader(type: .ping, flags: .ack, streamID: 0, length: value).encoded) == [.pong(value)])
            #expect(try p.receive(YamuxHeader(type: .goAway, streamID: 0, length: value).encoded) == [.goAway(value)])
            #expect(p.remoteGoAway)
        }
    }
}

@Suite struct UpgradeHardeningTests {
    /// Extreme multistream length prefixes, in the clear (security) and under Noise (muxer)
    /// phases alike, are refused from the prefix: a clear error, never a trap or a wait
    /// for gigabytes.
    @Test func extremeMultistreamLengthPrefixes() {
        for value in extremeWireValues {
            for role in [MultistreamSelect.Role.responder(supported: ["/noise"]), .initiator(proposals: ["/noise"])] {
                var ms = MultistreamSelect(role: role)
                let header = MultistreamSelect.encode("/multistream/1.0.0")
                let bytes = header + UVarint.encode(value) + [0x2F]
                do {
                    _ = try ms.receive(bytes)
                    #expect(value <= UInt64(MultistreamSelect.maxMessageLength))
                } catch {
                    if value > UInt64(MultistreamSelect.maxMessageLength) {
                        // Over the cap, or (2^64-1, ten varint bytes) over the 9-byte varint limit.
                        #expect(error == .wire(.lengthExceedsLimit(length: value, limit: MultistreamSelect.maxMessageLength))
                                || error == .wire(.varintOverflow))
                    }
                }
            }
            // The header itself with an extreme length.
            var first = MultistreamSelect(role: .responder(supported: ["/noise"]))
            if value > UInt64(MultistreamSelect.maxMessageLength) {
                #expect(throws: MultistreamSelect.Error.self) { try first.receive(UVarint.encode(value)) }
            }
        }
    }
}

@Suite struct IdentifyHardeningTests {
    static func field(_ number: UInt64, wireType: UInt64, _ rest: [UInt8]) -> [UInt8] {
        UVarint.encode(number << 3 | wireType) + rest
    }

    /// Every identify field (and unknown ones) with extreme length prefixes and values:
    /// a WireError or a bounded message, never a trap.
    @Test func extremeValuesInEveryIdentifyField() {
        for number in [UInt64(1), 2, 3, 4, 5, 6, 7, 8, 9, 1000] + extremeWireValues.map({ $0 >> 3 }) {
            for value in extremeWireValues {
                let candidates: [[UInt8]] = [
                    Self.field(number, wireType: 2, UVarint.encode(value) + [0x41, 0x42]),  // length prefix
                    Self.field(number, wireType: 0, UVarint.encode(value)),                // varint
                    Self.field(number, wireType: 1, [UInt8](repeating: 0xFF, count: 8)),
                    Self.field(number, wireType: 5, [UInt8](repeating: 0xFF, count: 4)),
                ]
                for body in candidates {
                    for bytes in [body, UVarint.encode(value) + body, UVarint.encode(UInt64(body.count)) + body] {
                        if let m = try? IdentifyMessage(stream: bytes) {
                            #expect(m.protocols.count <= IdentifyMessage.maxProtocols)
                            #expect(m.listenAddrs.count <= IdentifyMessage.maxAddresses)
                        }
                    }
                }
            }
        }
        // Counts: more protocols than the cap is a clear error, not an unbounded list.
        var w = ProtobufWriter()
        for i in 0...IdentifyMessage.maxProtocols { w.writeString(field: 3, "/p/\(i)") }
        #expect(throws: WireError.self) { try IdentifyMessage(decoding: w.bytes) }
    }

    /// What go-libp2p / rust-libp2p send: fields in another order, a signed peer record
    /// (field 8) and other fields this node does not know, and omitted fields.
    @Test func acceptsWhatOtherImplementationsSend() throws {
        let key = PeerKeyPair().publicKey
        var w = ProtobufWriter()
        w.writeBytes(field: 1, key.protobufEncoded)
        w.writeBytes(field: 2, try Multiaddr.tcp(host: "192.0.2.1", port: 4001).bytes)
        w.writeBytes(field: 2, [0x04, 192, 0, 2, 1, 0x91, 0x02, 0x0F, 0xA1, 0xCC, 0x03])  // /ip4/…/udp/4001/quic-v1
        w.writeString(field: 3, "/ipfs/kad/1.0.0")
        w.writeBytes(field: 4, try Multiaddr.tcp(host: "198.51.100.7", port: 50000).bytes)
        w.writeString(field: 5, "ipfs/0.1.0")
        w.writeString(field: 6, "go-libp2p/0.36.0")
        w.writeBytes(field: 8, [UInt8](repeating: 0x5A, count: 120))   // signedPeerRecord envelope
        w.writeVarint(field: 42, .max)                                  // unknown varint
        var bytes = w.bytes
        bytes += Self.field(43, wireType: 1, [UInt8](repeating: 0, count: 8))  // unknown fixed64
        bytes += Self.field(44, wireType: 5, [1, 2, 3, 4])                     // unknown fixed32
        let m = try IdentifyMessage(stream: VarintFrame.encode(bytes))
        #expect(m.publicKey == key)
        #expect(m.listenAddrs.first == (try Multiaddr.tcp(host: "192.0.2.1", port: 4001)))
        #expect(m.protocols == ["/ipfs/kad/1.0.0"])
        #expect(m.agentVersion == "go-libp2p/0.36.0")

        // Every field omitted (an empty message is one zero length byte on the wire).
        let empty = try IdentifyMessage(stream: [0x00])
        #expect(empty.publicKey == nil && empty.protocols.isEmpty && empty.agentVersion == nil)
        // Empty strings, as an encoder that writes default values would (fields 5 and 6, length 0).
        #expect(try IdentifyMessage(stream: VarintFrame.encode([0x2A, 0x00, 0x32, 0x00])).agentVersion == "")
    }
}

/// Finding 17 and the memory caps, over real loopback sockets with small configured limits.
@Suite(.timeLimit(.minutes(1))) struct ConnectionLimitTests {
    static let sink = "/vivim/test-sink/1.0.0"

    /// Waits (bounded) until `condition` holds.
    static func eventually(_ condition: () -> Bool) async throws {
        for _ in 0..<250 where !condition() { try await Task.sleep(for: .milliseconds(20)) }
    }

    /// Waits (bounded) until the channel closes; throws if it stays open.
    static func expectClosed(_ channel: any Channel, within limit: Duration = .seconds(10), _ what: String) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await channel.closeFuture.get() }
            group.addTask { try await Task.sleep(for: limit); throw TestError(description: what) }
            try await group.next()
            group.cancelAll()
        }
    }

    static func rawConnect(_ addr: Multiaddr) async throws -> any Channel {
        let (host, port) = try #require(addr.tcpEndpoint)
        return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: host, port: Int(port)).get()
    }

    @Test func inboundFloodDoesNotStopOutboundDials() async throws {
        var config = P2PHost.Configuration()
        config.maxInboundConnections = 4
        config.handshakeTimeout = .seconds(30)
        let node = P2PHost(identity: PeerKeyPair(), configuration: config)
        let addr = try await node.listen()
        // Four silent attackers take every inbound slot.
        var attackers: [any Channel] = []
        for _ in 0..<4 { attackers.append(try await Self.rawConnect(addr)) }
        try await Self.eventually { node.inboundConnectionCount == 4 }
        #expect(node.inboundConnectionCount == 4)
        // A fifth inbound peer is refused…
        let late = P2PHost(identity: PeerKeyPair())
        await #expect(throws: (any Error).self) { try await late.dial(addr) }
        // …but the node still dials out.
        let bootstrap = P2PHost(identity: PeerKeyPair())
        let conn = try await node.dial(try await bootstrap.listen())
        #expect(conn.remotePeer == bootstrap.peerID)
        _ = try await conn.ping()
        for a in attackers { try? await a.close() }
        await late.shutdown(); await bootstrap.shutdown(); await node.shutdown()
    }

    @Test func refusesInboundBeyondThePerIPCap() async throws {
        var config = P2PHost.Configuration()
        config.maxInboundPerIP = 2
        config.perIPCapExemptsLoopback = false  // the test's peers are all on 127.0.0.1
        let node = P2PHost(identity: PeerKeyPair(), configuration: config)
        let addr = try await node.listen()
        let clients = (0..<3).map { _ in P2PHost(identity: PeerKeyPair()) }
        _ = try await clients[0].dial(addr)
        _ = try await clients[1].dial(addr)
        await #expect(throws: (any Error).self) { try await clients[2].dial(addr) }
        #expect(node.inboundConnectionCount == 2)
        // A slot freed by one of them is available again.
        await clients[0].shutdown()
        try await Self.eventually { node.inboundConnectionCount == 1 }
        _ = try await clients[2].dial(addr)
        for c in clients { await c.shutdown() }
        await node.shutdown()
    }

    @Test func closesASilentOrStalledHandshake() async throws {
        var config = P2PHost.Configuration()
        // Sub-second on purpose: the old timer kept whole seconds only, so this was 0 s
        // and failed every handshake, honest ones included.
        config.handshakeTimeout = .milliseconds(900)
        let node = P2PHost(identity: PeerKeyPair(), configuration: config)
        let addr = try await node.listen()
        let honest = P2PHost(identity: PeerKeyPair())
        _ = try await honest.dial(addr).ping()
        await honest.shutdown()
        try await Self.eventually { node.openConnectionCount == 0 }
        // Connects and sends nothing.
        let silent = try await Self.rawConnect(addr)
        try await Self.expectClosed(silent, "a silent connection outlived the handshake timeout")
        // Agrees on /noise, then stalls inside the first Noise frame.
        let stalled = try await Self.rawConnect(addr)
        var ms = MultistreamSelect(role: .initiator(proposals: [NoiseHandshake.protocolID]))
        let partialNoise: [UInt8] = [0x00, 0x20, 1, 2, 3]
        try await stalled.writeAndFlush(stalled.allocator.buffer(bytes: ms.start() + partialNoise)).get()
        try await Self.expectClosed(stalled, "a stalled handshake outlived the handshake timeout")
        try await Self.eventually { node.openConnectionCount == 0 }
        #expect(node.openConnectionCount == 0)
        await node.shutdown()
    }

    @Test func closesIdleConnectionsButKeepsBusyAndKeptAliveOnes() async throws {
        var config = P2PHost.Configuration()
        // Two seconds leave room for a loaded machine to negotiate the busy stream in time.
        config.idleTimeout = .seconds(2)
        let node = P2PHost(identity: PeerKeyPair(), configuration: config)
        node.handle(Self.sink) { stream in
            _ = try await stream.read()  // holds the stream open until the dialer closes it
        }
        let addr = try await node.listen()
        let idle = P2PHost(identity: PeerKeyPair()), busy = P2PHost(identity: PeerKeyPair()), kept = P2PHost(identity: PeerKeyPair())
        node.keepAlive(kept.peerID, true)
        // The busy connection opens its stream right away, well inside the idle timeout.
        let busyConn = try await busy.dial(addr)
        let stream = try await busyConn.openStream(Self.sink)
        let keptConn = try await kept.dial(addr)
        let idleConn = try await idle.dial(addr)
        try await Self.expectClosed(idleConn.channel, "an idle connection was not closed")
        // Several idle periods later the busy and the kept-alive connections are still up.
        try await Task.sleep(for: .seconds(5))
        #expect(busyConn.isActive)
        #expect(keptConn.isActive)
        _ = try await keptConn.ping()
        stream.close()
        await idle.shutdown(); await busy.shutdown(); await kept.shutdown(); await node.shutdown()
    }

    /// The connection manager's bootstrap peers are exempt: no idle close, no redial churn.
    @Test func keepsBootstrapConnectionsPastTheIdleTimeout() async throws {
        var config = P2PHost.Configuration()
        config.idleTimeout = .milliseconds(300)
        let node = P2PHost(identity: PeerKeyPair(), configuration: config)
        let boot = P2PHost(identity: PeerKeyPair())
        let addr = try await boot.listen()
        let manager = ConnectionManagerService(host: node)
        await manager.start()
        await manager.addPeer(boot.peerID, addrs: [addr], bootstrap: true)
        try await Self.eventually { !node.connections(to: boot.peerID).isEmpty }
        let conn = try #require(node.connections(to: boot.peerID).first)
        try await Task.sleep(for: .seconds(1))
        #expect(conn.isActive)
        #expect(await manager.metrics(of: boot.peerID)?.connects == 1)
        await manager.stop()
        await node.shutdown(); await boot.shutdown()
    }

    /// A server whose sink handler never reads: whatever arrives is held for it.
    static func sinkNode(_ config: P2PHost.Configuration) -> P2PHost {
        let node = P2PHost(identity: PeerKeyPair(), configuration: config)
        node.handle(sink) { _ in try await Task.sleep(for: .seconds(30)) }
        return node
    }

    @Test func capsInboundBytesHeldPerConnection() async throws {
        var config = P2PHost.Configuration()
        config.maxBufferedReceiveBytesPerConnection = 64 * 1024
        let node = Self.sinkNode(config)
        let addr = try await node.listen()
        let client = P2PHost(identity: PeerKeyPair())
        let conn = try await client.dial(addr)
        let first = try await conn.openStream(Self.sink)
        try await first.write([UInt8](repeating: 1, count: 48 * 1024))
        try await Self.eventually { node.bufferedInboundBytes == 48 * 1024 }
        #expect(node.bufferedInboundBytes == 48 * 1024)
        let second = try await conn.openStream(Self.sink)
        try await second.write([UInt8](repeating: 2, count: 48 * 1024))
        // The stream that would overflow the connection's cap is reset…
        await #expect(throws: P2PError.streamReset) { _ = try await second.read() }
        #expect(node.bufferedInboundBytes == 48 * 1024)
        // …and the connection and the first stream survive.
        _ = try await conn.ping()
        await client.shutdown()
        try await Self.eventually { node.bufferedInboundBytes == 0 }
        #expect(node.bufferedInboundBytes == 0)
        await node.shutdown()
    }

    @Test func capsInboundBytesHeldPerNode() async throws {
        var config = P2PHost.Configuration()
        config.maxBufferedReceiveBytesPerNode = 64 * 1024
        let node = Self.sinkNode(config)
        let addr = try await node.listen()
        let a = P2PHost(identity: PeerKeyPair()), b = P2PHost(identity: PeerKeyPair())
        let sa = try await a.dial(addr).openStream(Self.sink)
        try await sa.write([UInt8](repeating: 1, count: 48 * 1024))
        try await Self.eventually { node.bufferedInboundBytes == 48 * 1024 }
        let sb = try await b.dial(addr).openStream(Self.sink)
        try await sb.write([UInt8](repeating: 2, count: 48 * 1024))
        await #expect(throws: P2PError.streamReset) { _ = try await sb.read() }
        #expect(node.bufferedInboundBytes == 48 * 1024)
        await a.shutdown(); await b.shutdown(); await node.shutdown()
    }

    @Test func connectionHelperReusesOrDials() async throws {
        let a = P2PHost(identity: PeerKeyPair()), b = P2PHost(identity: PeerKeyPair())
        let addr = try await b.listen()
        // A dead address first: the helper moves on to the next one.
        let dead = P2PHost(identity: PeerKeyPair())
        let deadAddr = try await dead.listen()
        await dead.shutdown()
        let first = try await a.connection(to: b.peerID, addresses: [deadAddr.withoutPeerID, addr.withoutPeerID])
        #expect(first.remotePeer == b.peerID)
        // A live connection is reused, whatever addresses are given.
        let again = try await a.connection(to: b.peerID, addresses: [])
        #expect(again.channel === first.channel)
        #expect(a.connections(to: b.peerID).count == 1)
        // No usable address and no connection: a clear error.
        await #expect(throws: P2PError.self) { try await a.connection(to: PeerKeyPair().peerID, addresses: []) }
        // An address naming another peer is not dialled for this one.
        await #expect(throws: P2PError.self) { try await a.connection(to: PeerKeyPair().peerID, addresses: [addr]) }
        await a.shutdown(); await b.shutdown()
    }
}

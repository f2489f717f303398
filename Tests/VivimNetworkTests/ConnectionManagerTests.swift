import Testing
@testable import VivimNetwork

@Suite struct ConnectionManagerTests {
    static let t0 = NetworkInstant.zero
    static let addr = try! Multiaddr("/ip4/127.0.0.1/tcp/4001")

    static func manager(_ edit: (inout ConnectionManager.Configuration) -> Void = { _ in }) -> ConnectionManager {
        var c = ConnectionManager.Configuration()
        c.initialBackoff = .seconds(1)
        c.maxBackoff = .seconds(8)
        c.jitter = 0
        edit(&c)
        return ConnectionManager(localPeer: PeerKeyPair().peerID, configuration: c)
    }

    @Test func dialsABootstrapPeerAtOnceAndBacksOffExponentiallyUpToTheCap() {
        var m = Self.manager()
        var rng = TestRNG(seed: 1)
        let peer = PeerKeyPair().peerID
        m.addPeer(peer, addrs: [Self.addr], bootstrap: true, now: Self.t0)
        #expect(m.tick(now: Self.t0) == [.dial(peer, addrs: [Self.addr])])
        #expect(m.tick(now: Self.t0).isEmpty)  // one dial in flight at a time
        var now = Self.t0
        var delays: [Duration] = []
        for _ in 0..<6 {
            m.dialFailed(peer, now: now, rng: &rng)
            let due = m.peers[peer]!.nextDial!
            delays.append(due - now)
            #expect(m.tick(now: NetworkInstant(nanoseconds: due.nanoseconds - 1)).isEmpty)
            #expect(m.tick(now: due) == [.dial(peer, addrs: [Self.addr])])
            now = due
        }
        #expect(delays == [.seconds(2), .seconds(4), .seconds(8), .seconds(8), .seconds(8), .seconds(8)])
        #expect(m.peers[peer] != nil)  // bootstrap peers are never given up
    }

    @Test func jitterKeepsTheDelayWithinItsBand() {
        let m = Self.manager { $0.jitter = 0.5 }
        var rng = TestRNG(seed: 7)
        var seen: Set<Duration> = []
        for _ in 0..<200 {
            let d = m.backoff(attempts: 2, rng: &rng)  // nominal 4 s
            #expect(d >= .seconds(2) && d < .seconds(4))
            seen.insert(d)
        }
        #expect(seen.count > 100)  // actually random
    }

    @Test func redialsAPeerAfterItsConnectionDropsAndResetsTheBackoffOnSuccess() {
        var m = Self.manager()
        var rng = TestRNG(seed: 2)
        let peer = PeerKeyPair().peerID
        m.addPeer(peer, addrs: [Self.addr], now: Self.t0)
        #expect(m.tick(now: Self.t0).isEmpty)  // a known peer is not dialled until it was lost
        #expect(m.connected(peer, now: Self.t0).isEmpty)
        m.disconnected(peer, now: Self.t0 + .seconds(10), rng: &rng)
        #expect(m.tick(now: Self.t0 + .seconds(11)) == [.dial(peer, addrs: [Self.addr])])
        m.dialFailed(peer, now: Self.t0 + .seconds(11), rng: &rng)
        #expect(m.peers[peer]?.attempts == 1)
        _ = m.tick(now: Self.t0 + .seconds(13))
        #expect(m.dialSucceeded(peer, now: Self.t0 + .seconds(13)).isEmpty)
        #expect(m.peers[peer]?.attempts == 0)
        let metrics = m.peers[peer]!.metrics
        #expect(metrics.connects == 2 && metrics.disconnects == 1 && metrics.dialFailures == 1)
    }

    @Test func forgetsAnUnreachableNonBootstrapPeerAfterMaxAttempts() {
        var m = Self.manager { $0.maxAttempts = 3 }
        var rng = TestRNG(seed: 3)
        let peer = PeerKeyPair().peerID
        m.addPeer(peer, addrs: [Self.addr], now: Self.t0)
        _ = m.connected(peer, now: Self.t0)
        m.disconnected(peer, now: Self.t0, rng: &rng)
        for i in 0..<3 {
            let due = m.peers[peer]!.nextDial!
            #expect(m.tick(now: due).count == 1)
            m.dialFailed(peer, now: due, rng: &rng)
            if i < 2 { #expect(m.peers[peer] != nil) }
        }
        #expect(m.peers[peer] == nil)
    }

    @Test func capsConnectedPeers() {
        var m = Self.manager { $0.maxPeers = 2 }
        let peers = (0..<3).map { _ in PeerKeyPair().peerID }
        #expect(m.connected(peers[0], now: Self.t0).isEmpty)
        #expect(m.connected(peers[1], now: Self.t0).isEmpty)
        #expect(m.connected(peers[2], now: Self.t0) == [.disconnect(peers[2])])
        #expect(!m.canConnectMore)
        var rng = TestRNG(seed: 4)
        let waiting = PeerKeyPair().peerID
        m.addPeer(waiting, addrs: [Self.addr], now: Self.t0)
        _ = m.connected(waiting, now: Self.t0)  // refused: over the cap
        m.disconnected(peers[0], now: Self.t0, rng: &rng)
        #expect(m.canConnectMore)
    }

    @Test func recordsRoundTripsPerPeerAndForTheNode() {
        var m = Self.manager { $0.latencySamples = 4 }
        let peer = PeerKeyPair().peerID
        _ = m.connected(peer, now: Self.t0)
        m.measured(peer, rtt: .milliseconds(8), now: Self.t0)
        m.measured(peer, rtt: .milliseconds(16), now: Self.t0)
        #expect(m.peers[peer]?.metrics.rtt == .milliseconds(9))  // 8·7/8 + 16/8
        #expect(m.peers[peer]?.metrics.lastRTT == .milliseconds(16))
        for _ in 0..<5 { m.measured(peer, rtt: .milliseconds(1), now: Self.t0) }
        #expect(m.latencySamples.count == 4)  // a bounded ring
    }
}

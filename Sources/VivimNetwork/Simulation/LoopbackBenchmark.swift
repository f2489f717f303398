#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Real-socket figures for `vivim bench p2p` (issue 5 "Benchmarks"): hosts on
/// 127.0.0.1 speaking the full stack (TCP, multistream, Noise, yamux).
extension NetworkBenchmark {
    static func percentile(_ sorted: [Duration], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let d = sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))]
        return Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    }

    /// - Parameters:
    ///   - nodes: hosts started on loopback (each with DHT, gossipsub and content transfer).
    ///   - handshakes: sequential connections measured for the Noise + yamux handshake rate.
    public static func loopback(nodes: Int = 50, handshakes: Int = 200, lookups: Int = 100, messages: Int = 100) async throws -> [Figure] {
        var figures: [Figure] = []

        // Handshake cost: sequential dial + upgrade between two hosts.
        let a = P2PHost(identity: PeerKeyPair()), b = P2PHost(identity: PeerKeyPair())
        let bAddr = try await b.listen()
        var connectTimes: [Duration] = []
        let start = ContinuousClock.now
        for _ in 0..<handshakes {
            let t = ContinuousClock.now
            let c = try await a.dial(bAddr)
            connectTimes.append(ContinuousClock.now - t)
            await c.close()
        }
        let elapsed = ContinuousClock.now - start
        connectTimes.sort()
        figures.append(Figure(name: "p2p connections per second (Noise + yamux, sequential)",
                              value: Double(handshakes) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18),
                              unit: "conn/s"))
        figures.append(Figure(name: "p2p peer connect p50", value: percentile(connectTimes, 0.5), unit: "ms"))
        figures.append(Figure(name: "p2p peer connect p99", value: percentile(connectTimes, 0.99), unit: "ms"))
        await a.shutdown(); await b.shutdown()

        // A network of `nodes` hosts.
        var hosts: [P2PHost] = [], dhts: [DHTService] = [], pubsubs: [PubSubService] = [], addrs: [Multiaddr] = []
        var gossip = GossipsubRouter.Configuration()
        gossip.heartbeatInterval = .milliseconds(200)
        for _ in 0..<nodes {
            let h = P2PHost(identity: PeerKeyPair())
            addrs.append(try await h.listen())
            let d = DHTService(host: h)
            await d.start()
            let p = PubSubService(host: h, configuration: gossip)
            await p.start()
            await p.subscribe("bench")
            hosts.append(h); dhts.append(d); pubsubs.append(p)
        }
        for i in 1..<nodes {
            await dhts[i].addPeer(hosts[0].peerID, addrs: [addrs[0]])
            _ = try await dhts[i].findNode(hosts[i].peerID.bytes)
        }
        var rng = SplitMix64(seed: 1)
        var lookupTimes: [Duration] = []
        for _ in 0..<lookups {
            let from = Int(rng.next() % UInt64(nodes))
            let key = (0..<32).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let t = ContinuousClock.now
            _ = try await dhts[from].findNode(key)
            lookupTimes.append(ContinuousClock.now - t)
        }
        lookupTimes.sort()
        figures.append(Figure(name: "p2p n=\(nodes) DHT lookup p50", value: percentile(lookupTimes, 0.5), unit: "ms"))
        figures.append(Figure(name: "p2p n=\(nodes) DHT lookup p99", value: percentile(lookupTimes, 0.99), unit: "ms"))

        // PubSub latency: one message at a time from node 0 to the last node.
        try await Task.sleep(for: .seconds(1))  // let meshes form
        let receiver = pubsubs[nodes - 1]
        let arrivals = AsyncStream<ContinuousClock.Instant>.makeStream()
        let listener = Task {
            for await _ in receiver.messages { arrivals.continuation.yield(.now) }
            arrivals.continuation.finish()
        }
        var arrivalIterator = arrivals.stream.makeAsyncIterator()
        var latencies: [Duration] = []
        var delivered = 0
        for n in 0..<messages {
            let sent = ContinuousClock.now
            try await pubsubs[0].publish("bench", Array("m\(n)".utf8))
            let timeout = Task { try await Task.sleep(for: .seconds(2)); arrivals.continuation.yield(sent) }
            if let at = await arrivalIterator.next(), at != sent {
                latencies.append(at - sent)
                delivered += 1
            }
            timeout.cancel()
        }
        latencies.sort()
        figures.append(Figure(name: "p2p n=\(nodes) pubsub delivered to the farthest node", value: Double(delivered) / Double(messages) * 100, unit: "%"))
        figures.append(Figure(name: "p2p n=\(nodes) pubsub delivery p50", value: percentile(latencies, 0.5), unit: "ms"))
        figures.append(Figure(name: "p2p n=\(nodes) pubsub delivery p99", value: percentile(latencies, 0.99), unit: "ms"))

        // PubSub throughput: a burst from node 0, rate at which the last node receives it.
        let burst = messages * 10
        let burstStart = ContinuousClock.now
        for n in 0..<burst { try await pubsubs[0].publish("bench", Array("b\(n)".utf8)) }
        var got = 0
        let burstTimeout = Task { try await Task.sleep(for: .seconds(20)); arrivals.continuation.yield(burstStart) }
        while got < burst, let at = await arrivalIterator.next(), at != burstStart { got += 1 }
        burstTimeout.cancel()
        let burstTime = ContinuousClock.now - burstStart
        figures.append(Figure(name: "p2p n=\(nodes) pubsub messages per second at the farthest node (burst of \(burst))",
                              value: Double(got) / (Double(burstTime.components.seconds) + Double(burstTime.components.attoseconds) / 1e18),
                              unit: "msg/s"))
        listener.cancel()

        for i in 0..<nodes {
            await pubsubs[i].stop()
            await dhts[i].stop()
            await hosts[i].shutdown()
        }
        return figures
    }
}

/// Per-node gossipsub throughput over real sockets (SPEC §12: 10,000 messages per
/// second per node). One node under test, subscribed to the topic, is fed a stream
/// of pre-signed messages from `authors` keys by a raw source peer, and forwards
/// them to `sinks` mesh peers that only drain their streams. The figure is the rate
/// at which the node receives, de-duplicates, verifies (every message, StrictSign,
/// once), delivers to its subscriber (counted at the subscriber) and forwards —
/// its own work, not that of 50 nodes sharing two cores. The source, sinks and node
/// share one process, so a second figure gives the process CPU time per message
/// (all of them together, over the measured interval): less noisy than the rate on
/// a machine whose cores are shared.
extension NetworkBenchmark {
    /// User + system CPU time of this process, in seconds.
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        #if canImport(Glibc)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    public static func pubsubThroughput(messages: Int = 20_000, authors: Int = 16, sinks: Int = 6, batch: Int = 64) async throws -> [Figure] {
        let topic = "bench"
        let node = P2PHost(identity: PeerKeyPair())
        let nodeAddr = try await node.listen()
        let pubsub = PubSubService(host: node)
        await pubsub.start()
        await pubsub.subscribe(topic)

        // Raw peers: send SUBSCRIBE (+ GRAFT for sinks) and then either feed or drain.
        var hello = PubSubRPC(subscriptions: [.init(subscribe: true, topic: topic)])
        var graft = PubSubRPC.Control()
        graft.graft = [topic]
        hello.control = graft
        let helloFrame = VarintFrame.encode(hello.encoded)
        var sinkHosts: [P2PHost] = []
        let drained = AsyncStream<Int>.makeStream()
        for _ in 0..<sinks {
            let h = P2PHost(identity: PeerKeyPair())
            h.handle(PubSubRPC.protocolID) { stream in
                var total = 0
                for _ in 0..<Int.max {
                    guard let chunk = try await stream.read() else { break }
                    total += chunk.count
                }
                drained.continuation.yield(total)
            }
            let c = try await h.dial(nodeAddr)
            let s = try await c.openStream(PubSubRPC.protocolID)
            try await s.write(helloFrame)
            sinkHosts.append(h)
        }
        let source = P2PHost(identity: PeerKeyPair())
        source.handle(PubSubRPC.protocolID) { stream in
            for _ in 0..<Int.max { guard try await stream.read() != nil else { break } }
        }
        let sourceStream = try await source.dial(nodeAddr).openStream(PubSubRPC.protocolID)
        try await sourceStream.write(VarintFrame.encode(PubSubRPC(subscriptions: [.init(subscribe: true, topic: topic)]).encoded))
        // Wait until the node has all sinks in its mesh (bounded).
        for _ in 0..<400 where await pubsub.mesh(topic).count < sinks { try await Task.sleep(for: .milliseconds(10)) }

        let keys = (0..<authors).map { _ in PeerKeyPair() }
        var frames: [[UInt8]] = []
        var pending: [PubSubRPC.Message] = []
        for n in 0..<messages {
            let payload = Array("message \(n) ".utf8) + [UInt8](repeating: 0x61, count: 64)
            pending.append(try PubSubRPC.Message.signed(by: keys[n % authors], data: payload, seqno: UInt64(n / authors + 1), topic: topic))
            if pending.count == batch || n == messages - 1 {
                frames.append(VarintFrame.encode(PubSubRPC(messages: pending).encoded))
                pending = []
            }
        }

        let counter = Task {
            var got = 0
            for await _ in pubsub.messages {
                got += 1
                if got == messages { break }
            }
            return got
        }
        let start = ContinuousClock.now
        let cpuStart = processCPUSeconds()
        for f in frames { try await sourceStream.write(f) }
        let timeout = Task { try? await Task.sleep(for: .seconds(60)); counter.cancel() }
        let delivered = await counter.value  // a cancelled iteration ends with what arrived
        timeout.cancel()
        let elapsed = ContinuousClock.now - start
        let cpu = processCPUSeconds() - cpuStart
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        sourceStream.close()
        await pubsub.stop()
        await node.shutdown()
        await source.shutdown()
        for h in sinkHosts { await h.shutdown() }
        drained.continuation.finish()
        return [
            Figure(name: "pubsub node throughput (receive, verify, deliver, forward to \(sinks)), \(messages) msgs from \(authors) authors",
                   value: Double(delivered) / seconds, unit: "msg/s"),
            Figure(name: "pubsub node throughput delivered", value: Double(delivered) / Double(messages) * 100, unit: "%"),
            Figure(name: "pubsub node throughput CPU per message (node + source + \(sinks) sinks, one process)",
                   value: cpu / Double(max(delivered, 1)) * 1e6, unit: "µs"),
            Figure(name: "pubsub node throughput cores busy (process CPU / wall time)", value: cpu / seconds, unit: "cores"),
        ]
    }
}

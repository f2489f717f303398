#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Whole-node figures for `vivim bench p2p` (issue 5 "Benchmarks"): content fetch
/// through ``VivimNode`` (local and over the network, SPEC §12's fetch rows), and the
/// Noise + yamux handshake rate with the whole process held to one core.
extension NetworkBenchmark {
    /// `nodes` full ``VivimNode``s on 127.0.0.1 (DHT, gossipsub, storage, transfer), joined
    /// through node 0. Each of `bundles` bundles of `bundleSize` bytes is published by one node
    /// under a content id (replication factor 0, so only its publisher holds it) and fetched by
    /// content id once by the publisher (local: store read + hash check) and once by a node that
    /// has never seen it (network: the signed record's GET_VALUE, the provider lookup under the
    /// content id's key (SPEC §8.2), dial if needed, `/vivim/content/1.0.0` transfer, hash check, store).
    /// `directory` holds the nodes' content stores; the caller removes it.
    public static func contentFetch(nodes count: Int = 50, bundles: Int = 100, bundleSize: Int = 64 * 1024,
                                     directory root: String) async throws -> [Figure] {
        precondition(count >= 2)
        var nodes: [VivimNode] = []
        do {
            let figures = try await measureFetch(&nodes, count: count, bundles: bundles, bundleSize: bundleSize, root: root)
            for n in nodes { await n.shutdown() }
            return figures
        } catch {
            for n in nodes { await n.shutdown() }
            throw error
        }
    }

    private static func measureFetch(_ nodes: inout [VivimNode], count: Int, bundles: Int, bundleSize: Int,
                                     root: String) async throws -> [Figure] {
        var seed: Multiaddr?
        for i in 0..<count {
            var config = VivimNode.Configuration(contentDirectory: root + "/node-\(i)")
            config.listen = try Multiaddr("/ip4/127.0.0.1/tcp/0")
            if let seed { config.bootstrap = [seed] }
            config.sync.antiEntropyInterval = .seconds(3600)
            let node = try VivimNode(identity: PeerKeyPair(), configuration: config)
            try await node.start()
            if seed == nil { seed = await node.listenAddresses.first }
            nodes.append(node)
        }
        // Let every node's join lookup finish before measuring.
        for node in nodes { _ = try? await node.dht.findNode(node.peerID.bytes) }

        var rng = SplitMix64(seed: 7)
        var published: [(publisher: Int, contentID: String)] = []
        for b in 0..<bundles {
            let publisher = Int(rng.next() % UInt64(count))
            var bytes = [UInt8](repeating: 0, count: bundleSize)
            for j in stride(from: 0, to: bundleSize, by: 8) { bytes[j] = UInt8(truncatingIfNeeded: rng.next() &+ UInt64(b)) }
            let contentID = "bench-\(b)"
            _ = try await nodes[publisher].publish(contentId: contentID, bytes: bytes, replicationFactor: 0)
            // The publish provides in the background; wait for it, so the figure is the fetch alone.
            _ = try await nodes[publisher].dht.provide(ContentHash.providerKey(contentID: contentID))
            published.append((publisher, contentID))
        }

        var local: [Duration] = [], network: [Duration] = []
        var failures = 0
        for (publisher, contentID) in published {
            var t = ContinuousClock.now
            _ = try await nodes[publisher].fetch(contentId: contentID)
            local.append(ContinuousClock.now - t)

            var reader = Int(rng.next() % UInt64(count))
            if reader == publisher { reader = (reader + 1) % count }
            t = ContinuousClock.now
            do {
                _ = try await nodes[reader].fetch(contentId: contentID)
                network.append(ContinuousClock.now - t)
            } catch {
                failures += 1
            }
        }
        local.sort(); network.sort()
        let kb = bundleSize / 1024
        return [
            Figure(name: "p2p n=\(count) content fetch, local (\(kb) KB) p50", value: percentile(local, 0.5), unit: "ms"),
            Figure(name: "p2p n=\(count) content fetch, local (\(kb) KB) p99", value: percentile(local, 0.99), unit: "ms"),
            Figure(name: "p2p n=\(count) content fetch, network (\(kb) KB) p50", value: percentile(network, 0.5), unit: "ms"),
            Figure(name: "p2p n=\(count) content fetch, network (\(kb) KB) p99", value: percentile(network, 0.99), unit: "ms"),
            Figure(name: "p2p n=\(count) content fetch, network succeeded",
                   value: Double(bundles - failures) / Double(max(1, bundles)) * 100, unit: "%"),
        ]
    }

    /// Sequential dial + Noise XX + yamux between two hosts, with every thread of the
    /// process (both hosts' event loops, the benchmark's own tasks) held to one CPU, so the
    /// figure is the cost of both ends of each handshake on one core. The previous
    /// affinity is restored afterwards. Returns nil where thread affinity cannot be set.
    public static func handshakesOnOneCore(_ handshakes: Int = 200) async throws -> Figure? {
        #if os(Linux)
        let a = P2PHost(identity: PeerKeyPair()), b = P2PHost(identity: PeerKeyPair())
        let bAddr = try await b.listen()
        _ = try await a.dial(bAddr)  // warm up both sides' threads before pinning
        guard let saved = ProcessAffinity.pinAllThreads(toCPU: ProcessAffinity.firstAllowedCPU() ?? 0) else {
            await a.shutdown(); await b.shutdown()
            return nil
        }
        defer { ProcessAffinity.restore(saved) }
        let start = ContinuousClock.now
        for _ in 0..<handshakes {
            let c = try await a.dial(bAddr)
            await c.close()
        }
        let elapsed = ContinuousClock.now - start
        await a.shutdown(); await b.shutdown()
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Figure(name: "p2p connections per second on one core (Noise + yamux, both ends)",
                      value: Double(handshakes) / seconds, unit: "conn/s")
        #else
        return nil
        #endif
    }
}

#if os(Linux)
/// Holds every thread of this process to one CPU (Linux: affinity is per thread, so each
/// task in `/proc/self/task` is set; threads started later inherit their creator's mask).
enum ProcessAffinity {
    typealias Saved = [(tid: pid_t, mask: cpu_set_t)]
    private typealias AffinityCall = @convention(c) (pid_t, Int, UnsafeMutableRawPointer?) -> Int32

    /// glibc declares these only under _GNU_SOURCE, which Swift's Glibc module does not set.
    private static let getCall: AffinityCall? = symbol("sched_getaffinity")
    private static let setCall: AffinityCall? = symbol("sched_setaffinity")

    private static func symbol(_ name: String) -> AffinityCall? {
        guard let handle = dlopen(nil, RTLD_NOW), let sym = dlsym(handle, name) else { return nil }
        return unsafeBitCast(sym, to: AffinityCall.self)
    }

    private static func sched_getaffinity(_ tid: pid_t, _ size: Int, _ mask: inout cpu_set_t) -> Int32 {
        guard let getCall else { return -1 }
        return withUnsafeMutableBytes(of: &mask) { getCall(tid, size, $0.baseAddress) }
    }

    private static func sched_setaffinity(_ tid: pid_t, _ size: Int, _ mask: inout cpu_set_t) -> Int32 {
        guard let setCall else { return -1 }
        return withUnsafeMutableBytes(of: &mask) { setCall(tid, size, $0.baseAddress) }
    }

    static func firstAllowedCPU() -> Int32? {
        var mask = cpu_set_t()
        guard sched_getaffinity(0, MemoryLayout<cpu_set_t>.size, &mask) == 0 else { return nil }
        return (0..<Int32(MemoryLayout<cpu_set_t>.size * 8)).first { isSet($0, mask) }
    }

    static func pinAllThreads(toCPU cpu: Int32) -> Saved? {
        var saved: Saved = []
        var one = cpu_set_t()
        set(cpu, &one)
        for tid in threads() {
            var old = cpu_set_t()
            guard sched_getaffinity(tid, MemoryLayout<cpu_set_t>.size, &old) == 0 else { continue }
            guard sched_setaffinity(tid, MemoryLayout<cpu_set_t>.size, &one) == 0 else {
                restore(saved)
                return nil
            }
            saved.append((tid, old))
        }
        return saved.isEmpty ? nil : saved
    }

    /// Gives every thread its mask back; threads started while pinned (they inherited the
    /// one-CPU mask) get the mask the process had before.
    static func restore(_ saved: Saved) {
        guard var before = saved.first?.mask else { return }
        var known: Set<pid_t> = []
        for var entry in saved {
            known.insert(entry.tid)
            _ = sched_setaffinity(entry.tid, MemoryLayout<cpu_set_t>.size, &entry.mask)
        }
        for tid in threads() where !known.contains(tid) {
            _ = sched_setaffinity(tid, MemoryLayout<cpu_set_t>.size, &before)
        }
    }

    private static func threads() -> [pid_t] {
        guard let dir = opendir("/proc/self/task") else { return [] }
        defer { closedir(dir) }
        var out: [pid_t] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let tid = pid_t(name) { out.append(tid) }
        }
        return out
    }

    private static func set(_ cpu: Int32, _ mask: inout cpu_set_t) {
        withUnsafeMutableBytes(of: &mask) { raw in
            raw[Int(cpu) / 8] |= UInt8(1) << UInt8(Int(cpu) % 8)
        }
    }

    private static func isSet(_ cpu: Int32, _ mask: cpu_set_t) -> Bool {
        withUnsafeBytes(of: mask) { raw in raw[Int(cpu) / 8] & (UInt8(1) << UInt8(Int(cpu) % 8)) != 0 }
    }
}
#endif

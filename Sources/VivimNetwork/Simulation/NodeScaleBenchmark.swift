import Foundation

/// Node-scale figures for `vivim bench p2p` (issue 11; SPEC §12's per-node floors: 1,000
/// connected peers, 100,000 content records, 50 concurrent transfers), each with memory and
/// latency. One full ``VivimNode`` on 127.0.0.1 is the node under test; the phases are
/// cumulative, so the last one measures the node at all three floors at once:
///
/// 1. it holds `records` signed ``ContentRecord``s, stored through its DHT API, and a remote
///    peer reads random ones with GET_VALUE;
/// 2. `transfers` clients fetch distinct bundles from it at the same moment (four rounds);
/// 3. `peers` hosts are connected to it; dial and ping latency are measured against it.
///
/// Memory is this process's resident set (Linux `VmRSS`): its growth over each phase. The
/// peers and clients are lightweight ``P2PHost``s in the same process, so the peers row counts
/// both ends of every connection (the node's share is about half).
extension NetworkBenchmark {
    /// Resident memory of this process in bytes (Linux `/proc/self/status` VmRSS), nil elsewhere.
    public static func residentBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else { return nil }
        return kib * 1024
    }

    private static func mebibytes(_ bytes: Int) -> Double { Double(bytes) / 1_048_576 }

    /// - Parameters:
    ///   - peers: hosts connected to the node in phase 3 (the process needs about 2 file
    ///     descriptors per peer; the caller raises RLIMIT_NOFILE).
    ///   - records: content records held in phase 1.
    ///   - transfers: concurrent fetches in phase 2, each of a distinct `bundleSize` bundle.
    ///   - directory: the node's content store; the caller removes it.
    public static func nodeScale(peers: Int = 1_000, records: Int = 100_000, transfers: Int = 50,
                                 bundleSize: Int = 256 * 1024, directory: String) async throws -> [Figure] {
        var config = VivimNode.Configuration(contentDirectory: directory + "/node")
        config.listen = try Multiaddr("/ip4/127.0.0.1/tcp/0")
        config.nodeType = .edge
        config.host.maxInboundConnections = peers + 256
        config.connections.manager.maxPeers = peers + 256
        config.sync.antiEntropyInterval = .seconds(3600)
        let node = try VivimNode(identity: PeerKeyPair(), configuration: config)
        try await node.start()
        var hosts: [P2PHost] = []
        do {
            let figures = try await measureScale(node, &hosts, peers: peers, records: records, transfers: transfers, bundleSize: bundleSize)
            for h in hosts { await h.shutdown() }
            await node.shutdown()
            return figures
        } catch {
            for h in hosts { await h.shutdown() }
            await node.shutdown()
            throw error
        }
    }

    private static func measureScale(_ node: VivimNode, _ hosts: inout [P2PHost], peers: Int, records: Int, transfers: Int,
                                     bundleSize: Int) async throws -> [Figure] {
        guard let address = await node.listenAddresses.first else { throw P2PError.invalidAddress("the node has no listen address") }
        var figures: [Figure] = []
        let atStart = residentBytes() ?? 0
        figures.append(Figure(name: "node-scale process RSS, node started", value: mebibytes(atStart), unit: "MiB"))

        var rng = SplitMix64(seed: 11)
        // 1. Content records held: signed records stored through the node's DHT API (while it is alone, so
        // every put is local), then read by a remote peer.
        let beforeRecords = residentBytes() ?? 0
        let signer = PeerKeyPair()
        let now = UInt64(Date().timeIntervalSince1970)
        var ids: [String] = []
        ids.reserveCapacity(records)
        for r in 0..<records {
            let id = "bench-record-\(r)"
            var record = ContentRecord(contentID: id, contentType: "application/vivim-bundle+json",
                                       bundleHash: ContentHash(of: Array(id.utf8)),
                                       metadata: .init(size: 1024, createdAt: now, replicationFactor: 3), owner: signer.peerID)
            try record.sign(as: signer, addrs: [address], at: now)
            try await node.dht.putValue(record.encoded, for: record.key)
            ids.append(id)
        }
        let afterRecords = residentBytes() ?? 0
        let reader = P2PHost(identity: PeerKeyPair())
        hosts.append(reader)
        let readerDHT = DHTService(host: reader)
        await readerDHT.start()
        await readerDHT.addPeer(node.peerID, addrs: [address])
        var getTimes: [Duration] = []
        var missing = 0
        let gets = min(records, 200)
        for _ in 0..<gets {
            let id = ids[Int(rng.next() % UInt64(ids.count))]
            let t = ContinuousClock.now
            let value = try? await readerDHT.getValue(ContentRecord.key(for: id))
            getTimes.append(ContinuousClock.now - t)
            if value == nil { missing += 1 }
        }
        await readerDHT.stop()
        getTimes.sort()
        figures += [
            Figure(name: "node-scale \(records) content records, process RSS growth", value: mebibytes(max(0, afterRecords - beforeRecords)), unit: "MiB"),
            Figure(name: "node-scale \(records) content records, RSS per record",
                   value: Double(max(0, afterRecords - beforeRecords)) / Double(max(1, records)), unit: "B"),
            Figure(name: "node-scale \(records) content records, remote GET_VALUE p50", value: percentile(getTimes, 0.5), unit: "ms"),
            Figure(name: "node-scale \(records) content records, remote GET_VALUE p99", value: percentile(getTimes, 0.99), unit: "ms"),
            Figure(name: "node-scale \(records) content records, found by GET_VALUE",
                   value: Double(gets - missing) / Double(max(1, gets)) * 100, unit: "%"),
        ]

        // 2. Concurrent transfers: `transfers` clients, each fetching its own bundle, released together.
        let rounds = 4
        var bundles: [ContentHash] = []
        for b in 0..<(transfers * rounds) {
            var bytes = [UInt8](repeating: 0, count: bundleSize)
            for j in stride(from: 0, to: bundleSize, by: 8) { bytes[j] = UInt8(truncatingIfNeeded: rng.next() &+ UInt64(b)) }
            bundles.append(try await node.storage.publish(bytes, replicationFactor: 0))
        }
        var clients: [(host: P2PHost, transfer: ContentTransferService)] = []
        for _ in 0..<transfers {
            let h = P2PHost(identity: PeerKeyPair())
            hosts.append(h)
            _ = try await h.dial(address)
            clients.append((h, ContentTransferService(host: h) { _ in nil }))
        }
        let beforeTransfers = residentBytes() ?? 0
        let peak = PeakSampler()
        let sampler = Task { await peak.run() }
        var transferTimes: [Duration] = []
        var failed = 0
        for round in 0..<rounds {
            let results = await withTaskGroup(of: Duration?.self) { group in
                for (i, client) in clients.enumerated() {
                    let hash = bundles[round * transfers + i], peer = node.peerID
                    group.addTask {
                        let t = ContinuousClock.now
                        guard let bytes = try? await client.transfer.fetch(hash, from: peer, addrs: [address]),
                              ContentHash(of: bytes) == hash else { return nil }
                        return ContinuousClock.now - t
                    }
                }
                var out: [Duration?] = []
                for await r in group { out.append(r) }
                return out
            }
            transferTimes += results.compactMap { $0 }
            failed += results.filter { $0 == nil }.count
        }
        sampler.cancel()
        let transferPeak = await peak.peak
        transferTimes.sort()
        let kb = bundleSize / 1024
        figures += [
            Figure(name: "node-scale \(transfers) concurrent transfers (\(kb) KB) p50", value: percentile(transferTimes, 0.5), unit: "ms"),
            Figure(name: "node-scale \(transfers) concurrent transfers (\(kb) KB) p99", value: percentile(transferTimes, 0.99), unit: "ms"),
            Figure(name: "node-scale \(transfers) concurrent transfers succeeded",
                   value: Double(transferTimes.count) / Double(max(1, transferTimes.count + failed)) * 100, unit: "%"),
            Figure(name: "node-scale \(transfers) concurrent transfers, peak process RSS growth",
                   value: mebibytes(max(0, transferPeak - beforeTransfers)), unit: "MiB"),
        ]

        // 3. Connected peers: `peers` hosts dial the node (50 at a time) and stay connected.
        let beforePeers = residentBytes() ?? 0
        var peerConnections: [P2PConnection] = []
        var dialTimes: [Duration] = []
        var dialFailures = 0
        var next = 0
        while next < peers {
            let batch = (next..<min(peers, next + 50)).map { _ in P2PHost(identity: PeerKeyPair()) }
            hosts += batch
            next += batch.count
            let dialed = await withTaskGroup(of: (P2PConnection, Duration)?.self) { group in
                for h in batch {
                    group.addTask {
                        let t = ContinuousClock.now
                        guard let c = try? await h.dial(address) else { return nil }
                        return (c, ContinuousClock.now - t)
                    }
                }
                var out: [(P2PConnection, Duration)?] = []
                for await d in group { out.append(d) }
                return out
            }
            for d in dialed {
                if let (c, t) = d { peerConnections.append(c); dialTimes.append(t) } else { dialFailures += 1 }
            }
        }
        try await Task.sleep(for: .seconds(1))  // let identify and the node's bookkeeping settle
        let afterPeers = residentBytes() ?? 0
        let connected = await node.status().activeConnections
        // Latency with every peer connected: pings over existing connections, then fresh dials.
        var pingTimes: [Duration] = []
        for _ in 0..<min(200, max(1, peerConnections.count)) where !peerConnections.isEmpty {
            let c = peerConnections[Int(rng.next() % UInt64(peerConnections.count))]
            if let rtt = try? await c.ping() { pingTimes.append(rtt) }
        }
        var freshDials: [Duration] = []
        let newcomer = P2PHost(identity: PeerKeyPair())
        hosts.append(newcomer)
        for _ in 0..<50 {
            let t = ContinuousClock.now
            guard let c = try? await newcomer.dial(address) else { dialFailures += 1; continue }
            freshDials.append(ContinuousClock.now - t)
            await c.close()
        }
        pingTimes.sort(); dialTimes.sort(); freshDials.sort()
        let peerGrowth = max(0, afterPeers - beforePeers)
        figures += [
            Figure(name: "node-scale \(peers) peers: connections held by the node", value: Double(connected), unit: "conn"),
            Figure(name: "node-scale \(peers) peers: process RSS growth (both ends in one process)", value: mebibytes(peerGrowth), unit: "MiB"),
            Figure(name: "node-scale \(peers) peers: RSS per connection (both ends)", value: Double(peerGrowth) / Double(max(1, peerConnections.count)) / 1024, unit: "KiB"),
            Figure(name: "node-scale \(peers) peers: dial while connecting (50 at a time) p50", value: percentile(dialTimes, 0.5), unit: "ms"),
            Figure(name: "node-scale \(peers) peers: dial while connecting (50 at a time) p99", value: percentile(dialTimes, 0.99), unit: "ms"),
            Figure(name: "node-scale \(peers) peers connected: ping p50", value: percentile(pingTimes, 0.5), unit: "ms"),
            Figure(name: "node-scale \(peers) peers connected: ping p99", value: percentile(pingTimes, 0.99), unit: "ms"),
            Figure(name: "node-scale \(peers) peers connected: new dial p50", value: percentile(freshDials, 0.5), unit: "ms"),
            Figure(name: "node-scale \(peers) peers connected: new dial p99", value: percentile(freshDials, 0.99), unit: "ms"),
            Figure(name: "node-scale \(peers) peers: failed dials", value: Double(dialFailures), unit: "dials"),
            Figure(name: "node-scale process RSS at all three floors (\(peers) peers, \(records) records, after \(transfers) transfers)",
                   value: mebibytes(residentBytes() ?? 0), unit: "MiB"),
        ]
        return figures
    }
}

/// Samples this process's RSS every 10 ms until cancelled, keeping the peak.
private actor PeakSampler {
    private(set) var peak = 0
    func run() async {
        while !Task.isCancelled {
            peak = max(peak, NetworkBenchmark.residentBytes() ?? 0)
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}

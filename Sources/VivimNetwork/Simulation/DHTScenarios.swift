/// Measured scenarios over a ``DHTSimulation`` (issue 5 acceptance targets).
extension DHTSimulation {
    public struct LookupStatistics: Sendable {
        public var lookups = 0
        /// Lookups that returned at least `k - 2` of the true `k` closest live peers.
        public var accurate = 0
        public var meanHops = 0.0
        public var maxHops = 0
        public var meanMessages = 0.0
        public var meanOverlap = 0.0
        public var accuracy: Double { lookups == 0 ? 0 : Double(accurate) / Double(lookups) }
    }

    public struct ProviderStatistics: Sendable {
        public var lookups = 0
        public var succeeded = 0
        public var successRate: Double { lookups == 0 ? 0 : Double(succeeded) / Double(lookups) }
    }

    /// Runs `count` FIND_NODE lookups of random keys from random live nodes,
    /// `concurrency` at a time, and checks each against the brute-force oracle.
    public mutating func measureLookups(count: Int, concurrency: Int = 50) -> LookupStatistics {
        let k = configuration.kademlia.k
        var stats = LookupStatistics()
        var hops = 0, messages = 0, overlap = 0
        var done = 0
        while done < count {
            let batch = min(concurrency, count - done)
            var started: [(KademliaNode.QueryID, NodeIndex, [UInt8])] = []
            for _ in 0..<batch {
                let node = randomNode()
                let key = randomKey()
                started.append((startQuery(.findNode, key: key, on: node), node, key))
            }
            run()
            for (qid, node, key) in started {
                guard let r = result(of: qid, on: node) else { continue }
                let truth = Set(trueClosest(to: key, count: k))
                let found = r.closest.filter(truth.contains).count
                stats.lookups += 1
                if found >= k - 2 { stats.accurate += 1 }
                hops += r.hops
                stats.maxHops = max(stats.maxHops, r.hops)
                messages += r.messagesSent
                overlap += found
            }
            done += batch
        }
        if stats.lookups > 0 {
            stats.meanHops = Double(hops) / Double(stats.lookups)
            stats.meanMessages = Double(messages) / Double(stats.lookups)
            stats.meanOverlap = Double(overlap) / Double(stats.lookups)
        }
        return stats
    }

    /// Random nodes provide `keys` keys; then `killFraction` of the other nodes
    /// die; then a live node looks up the providers of each key.
    public mutating func measureProviderLookups(keys: Int, killFraction: Double) -> ProviderStatistics {
        var provided: [([UInt8], PeerID, NodeIndex)] = []
        for _ in 0..<keys {
            let node = randomNode()
            let key = Multihash.sha256(randomKey()).bytes  // a content id's DHT key (SPEC §8.2)
            _ = startQuery(.provide, key: key, on: node)
            provided.append((key, peers[node], node))
        }
        run()
        kill(fraction: killFraction, sparing: Set(provided.map(\.2)))
        var stats = ProviderStatistics()
        var started: [(KademliaNode.QueryID, NodeIndex, PeerID)] = []
        for (key, provider, _) in provided {
            let node = randomNode()
            started.append((startQuery(.getProviders(wanted: 1), key: key, on: node), node, provider))
        }
        run()
        for (qid, node, provider) in started {
            stats.lookups += 1
            if result(of: qid, on: node)?.providers.contains(where: { $0.id == provider }) == true { stats.succeeded += 1 }
        }
        return stats
    }
}

/// Figures for `vivim bench dht-sim` (SPEC §13): lookup accuracy, hops and cost
/// versus network size, and provider-lookup success with 20% of nodes killed.
public enum NetworkBenchmark {
    public struct Figure: Sendable, Equatable {
        public let name: String
        public let value: Double
        public let unit: String
    }

    /// ⌈log2(N) / log2(k)⌉ + 2 = ⌈log_k N⌉ + 2, the hop target of issue 5.
    public static func hopBound(nodeCount n: Int, k: Int) -> Int {
        var h = 0, reach = 1
        while reach < n { reach *= k; h += 1 }
        return h + 2
    }

    public static func dhtSimulation(sizes: [Int] = [100, 1000, 5000], lookups: Int = 500, seed: UInt64 = 42) throws -> [Figure] {
        var figures: [Figure] = []
        for n in sizes {
            var config = DHTSimulation.Configuration()
            config.nodeCount = n
            config.seed = seed
            let started = ContinuousClock.now
            var sim = try DHTSimulation(configuration: config)
            sim.bootstrap()
            let stats = sim.measureLookups(count: lookups)
            let providers = sim.measureProviderLookups(keys: 200, killFraction: 0.2)
            let wall = ContinuousClock.now - started
            let bound = hopBound(nodeCount: n, k: config.kademlia.k)
            figures += [
                Figure(name: "dht-sim n=\(n) lookups within k-2 of true k closest", value: stats.accuracy * 100, unit: "%"),
                Figure(name: "dht-sim n=\(n) mean overlap with true k closest", value: stats.meanOverlap, unit: "peers"),
                Figure(name: "dht-sim n=\(n) mean hops", value: stats.meanHops, unit: "hops"),
                Figure(name: "dht-sim n=\(n) max hops", value: Double(stats.maxHops), unit: "hops"),
                Figure(name: "dht-sim n=\(n) hop bound ceil(log2 N / log2 k) + 2", value: Double(bound), unit: "hops"),
                Figure(name: "dht-sim n=\(n) messages per lookup", value: stats.meanMessages, unit: "messages"),
                Figure(name: "dht-sim n=\(n) provider lookups found with 20% killed", value: providers.successRate * 100, unit: "%"),
                Figure(name: "dht-sim n=\(n) wall time", value: Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18, unit: "s"),
            ]
        }
        return figures
    }

    /// Figures for `vivim bench pubsub` (simulated): delivery without faults and
    /// with 10% of nodes killed, and RPCs per node per published message.
    public static func pubsubSimulation(sizes: [Int] = [100, 1000], messages: Int = 50, seed: UInt64 = 42) throws -> [Figure] {
        var figures: [Figure] = []
        for n in sizes {
            var config = PubSubSimulation.Configuration()
            config.nodeCount = n
            config.seed = seed
            let started = ContinuousClock.now
            var sim = try PubSubSimulation(configuration: config)
            sim.subscribeAll()
            sim.run(for: .seconds(5))
            let before = sim.rpcsSent
            let healthy = try sim.measureDelivery(messages: messages)
            let rpcs = Double(sim.rpcsSent - before) / Double(messages * n)
            sim.kill(fraction: 0.1)
            sim.run(for: .seconds(3))
            let faulty = try sim.measureDelivery(messages: messages)
            let wall = ContinuousClock.now - started
            figures += [
                Figure(name: "pubsub-sim n=\(n) delivery without faults (mean)", value: healthy.mean * 100, unit: "%"),
                Figure(name: "pubsub-sim n=\(n) delivery without faults (worst message)", value: healthy.min * 100, unit: "%"),
                Figure(name: "pubsub-sim n=\(n) delivery with 10% killed (mean)", value: faulty.mean * 100, unit: "%"),
                Figure(name: "pubsub-sim n=\(n) delivery with 10% killed (worst message)", value: faulty.min * 100, unit: "%"),
                Figure(name: "pubsub-sim n=\(n) RPCs per node per message (incl. heartbeats)", value: rpcs, unit: "rpcs"),
                Figure(name: "pubsub-sim n=\(n) wall time", value: Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18, unit: "s"),
            ]
        }
        return figures
    }
}

import Testing
@testable import VivimNetwork

private func at(_ ms: Int) -> NetworkInstant { NetworkInstant(nanoseconds: UInt64(ms) * 1_000_000) }
private func peer(_ n: UInt8) -> PeerID { try! PeerKeyPair(seed: [UInt8](repeating: n, count: 32)).peerID }

@Suite struct OrchestrationSchedulerTests {
    static func scheduler(_ edit: (inout TaskScheduler.Configuration) -> Void = { _ in }) -> TaskScheduler {
        var c = TaskScheduler.Configuration()
        c.seed = 42
        edit(&c)
        return TaskScheduler(configuration: c)
    }

    @Test func dueTasksComeOutByPriorityThenDueTimeThenId() {
        var s = Self.scheduler()
        let low = s.add(.cacheEviction, priority: .low, schedule: .at(at(0)), now: at(0))
        let normalLate = s.add(.crdtSync, priority: .normal, schedule: .at(at(20)), now: at(0))
        let normalEarly = s.add(.replication, priority: .normal, schedule: .at(at(10)), now: at(0))
        let critical = s.add(.healthCheck, priority: .critical, schedule: .at(at(30)), now: at(0))
        let normalEarly2 = s.add(.expiryProcessing, priority: .normal, schedule: .at(at(10)), now: at(0))
        _ = s.add(.dhtMaintenance, priority: .critical, schedule: .at(at(1000)), now: at(0))  // not due yet
        #expect(s.due(now: at(100)) == [critical, normalEarly, normalEarly2, normalLate, low])
        #expect(s.due(now: at(100)).isEmpty)  // all running
        #expect(s.nextDeadline == at(1000))
    }

    @Test func budgetCapsTasksPerTickAndTheRestRunNext() {
        var s = Self.scheduler { $0.maxTasksPerTick = 2 }
        let ids = (0..<5).map { _ in s.add(.replication, schedule: .at(at(0)), now: at(0)) }
        #expect(s.due(now: at(0)) == Array(ids[0..<2]))
        #expect(s.nextDeadline == at(0))  // more are waiting
        #expect(s.due(now: at(1)) == Array(ids[2..<4]))
        #expect(s.due(now: at(2), limit: 0).isEmpty)
        #expect(s.due(now: at(2)) == [ids[4]])
    }

    @Test func agingRunsALowTaskWithinBoundedTicksUnderConstantHighLoad() {
        var s = Self.scheduler { $0.maxTasksPerTick = 1; $0.agingTicks = 3 }
        // Three high-priority tasks due on every tick, each finishing at once: the budget is always taken.
        let high = (0..<3).map { _ in s.add(.healthCheck, priority: .high, schedule: .every(.milliseconds(1)), now: at(0)) }
        let low = s.add(.cacheEviction, priority: .low, schedule: .every(.milliseconds(1)), now: at(0))
        var lowRanAt: Int?
        for tick in 1...50 {
            let ids = s.due(now: at(tick))
            #expect(ids.count == 1)
            if ids == [low] { lowRanAt = tick; break }
            for id in ids { s.completed(id, now: at(tick), outcome: .success) }
        }
        // Low is two levels below high: it outranks the high tasks after 2·agingTicks + 1 passes.
        #expect(lowRanAt != nil && lowRanAt! <= 2 * 3 + 2)
        #expect(high.allSatisfy { s.tasks[$0]!.runs >= 1 })
    }

    @Test func intervalTaskStaysOnItsGridAndSkipsMissedOccurrences() {
        var s = Self.scheduler()
        let id = s.add(.dhtMaintenance, schedule: .every(.seconds(10), initialDelay: .seconds(1)), now: at(0))
        #expect(s.tasks[id]!.nextDue == at(1_000))
        #expect(s.due(now: at(1_700)) == [id])  // 700 ms late
        s.completed(id, now: at(1_900), outcome: .success)
        #expect(s.tasks[id]!.nextDue == at(11_000))  // not 11_900: lateness does not accumulate
        #expect(s.due(now: at(11_000)) == [id])
        s.completed(id, now: at(35_000), outcome: .success)  // overran two occurrences
        #expect(s.tasks[id]!.nextDue == at(41_000))
        #expect(s.tasks[id]!.runs == 2)
        #expect(s.tasks[id]!.lastDuration == .seconds(24))
    }

    @Test func jitterDelaysAnOccurrenceWithinItsBandOnly() {
        var s = Self.scheduler()
        let id = s.add(.crdtSync, schedule: .every(.seconds(10), jitter: 0.2), now: at(0))
        for _ in 0..<50 {
            let t = s.tasks[id]!
            let offset = t.nextDue! - t.nominal!
            #expect(offset >= .zero && offset < .seconds(2))
            #expect((t.nominal! - t.anchor!).nanoseconds % 10_000_000_000 == 0)
            #expect(s.due(now: t.nextDue!) == [id])
            s.completed(id, now: t.nextDue!, outcome: .success)
        }
        #expect(s.tasks[id]!.nominal == at(10_000 * 51))
    }

    @Test func failuresBackOffExponentiallyUpToTheCapAndSuccessResets() {
        var s = Self.scheduler {
            $0.initialFailureBackoff = .seconds(2)
            $0.maxFailureBackoff = .seconds(16)
        }
        let id = s.add(.replication, schedule: .every(.seconds(1)), now: at(0))
        var now = at(1_000)
        var gaps: [Duration] = []
        for _ in 0..<6 {
            #expect(s.due(now: now) == [id])
            s.completed(id, now: now, outcome: .failure)
            let next = s.tasks[id]!.nextDue!
            gaps.append(next - now)
            now = next
        }
        // The next grid point strictly after now + backoff (interval 1 s).
        #expect(gaps == [.seconds(3), .seconds(5), .seconds(9), .seconds(17), .seconds(17), .seconds(17)])
        #expect(s.tasks[id]!.failures == 6 && s.tasks[id]!.consecutiveFailures == 6)
        #expect(s.due(now: now) == [id])
        s.completed(id, now: now, outcome: .success)
        #expect(s.tasks[id]!.nextDue! - now == .seconds(1))
        #expect(s.tasks[id]!.consecutiveFailures == 0 && s.tasks[id]!.failures == 6)
        #expect(s.backoff(consecutiveFailures: 1) == .seconds(2))
        #expect(s.backoff(consecutiveFailures: 40) == .seconds(16))
    }

    @Test func oneShotTaskRunsOnceOrRetriesUntilMaxRetries() {
        var s = Self.scheduler { $0.maxRetries = 2; $0.initialFailureBackoff = .seconds(1) }
        let ok = s.add(.expiryProcessing, schedule: .at(at(5)), now: at(0))
        #expect(s.due(now: at(4)).isEmpty)
        #expect(s.due(now: at(5)) == [ok])
        s.completed(ok, now: at(6), outcome: .success)
        #expect(s.tasks[ok] == nil)

        let flaky = s.add(.custom("announce"), schedule: .at(at(10)), now: at(10))
        var now = at(10)
        var attempts = 0
        while let due = s.tasks[flaky]?.nextDue {
            now = max(now, due)
            #expect(s.due(now: now) == [flaky])
            attempts += 1
            s.completed(flaky, now: now, outcome: .failure)
        }
        #expect(attempts == 3)  // the first run and two retries
    }

    @Test func cancelledTaskNeverRunsAndALateCompletionIsIgnored() {
        var s = Self.scheduler()
        let a = s.add(.replication, schedule: .every(.seconds(1)), now: at(0))
        let b = s.add(.cacheEviction, schedule: .every(.seconds(1)), now: at(0))
        let first = s.cancel(a), again = s.cancel(a)
        #expect(first && !again)
        #expect(s.due(now: at(1_000)) == [b])
        let running = s.cancel(b)
        #expect(running)
        s.completed(b, now: at(1_100), outcome: .success)
        #expect(s.tasks.isEmpty && s.nextDeadline == nil)
    }

    /// Laws over random workloads: no task is lost (each is running, scheduled, or finished
    /// as a one-shot), interval tasks stay on their grid, and none waits forever.
    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func randomWorkloadLosesNoTaskAndIntervalsNeverDrift(seed: UInt64) {
        var rng = TestRNG(seed: seed)
        var s = Self.scheduler { $0.maxTasksPerTick = Int.random(in: 1...3, using: &rng); $0.seed = seed; $0.maxRetries = 3 }
        let kinds: [TaskScheduler.Kind] = [.replication, .cacheEviction, .dhtMaintenance, .healthCheck, .crdtSync, .expiryProcessing]
        var intervals: [TaskScheduler.TaskID: UInt64] = [:]
        var oneShots: Set<TaskScheduler.TaskID> = []
        var finished: Set<TaskScheduler.TaskID> = []
        var cancelled: Set<TaskScheduler.TaskID> = []
        var inFlight: [(id: TaskScheduler.TaskID, end: UInt64)] = []
        var lastNominal: [TaskScheduler.TaskID: NetworkInstant] = [:]
        var ran: Set<TaskScheduler.TaskID> = []
        var maxPassedOver = 0
        var violations: [String] = []
        var now: UInt64 = 0
        for _ in 0..<30 {
            let priority = TaskScheduler.Priority.allCases.randomElement(using: &rng)!
            let kind = kinds.randomElement(using: &rng)!
            if Bool.random(using: &rng) {
                let ms = UInt64.random(in: 50...2_000, using: &rng)
                let id = s.add(kind, priority: priority,
                               schedule: .every(.milliseconds(ms), jitter: Double.random(in: 0...0.5, using: &rng),
                                                initialDelay: .milliseconds(Int64.random(in: 0...1_000, using: &rng))),
                               now: NetworkInstant(nanoseconds: now))
                intervals[id] = ms * 1_000_000
            } else {
                oneShots.insert(s.add(kind, priority: priority,
                                      schedule: .at(at(Int.random(in: 0...20_000, using: &rng))), now: .zero))
            }
        }
        while now < 60_000_000_000 {
            now += UInt64.random(in: 1...40, using: &rng) * 1_000_000
            let t = NetworkInstant(nanoseconds: now)
            inFlight.sort { $0.end < $1.end }
            while let first = inFlight.first, first.end <= now {
                inFlight.removeFirst()
                let fails = Int.random(in: 0..<10, using: &rng) == 0
                s.completed(first.id, now: NetworkInstant(nanoseconds: first.end), outcome: fails ? .failure : .success)
                if oneShots.contains(first.id) && s.tasks[first.id] == nil { finished.insert(first.id) }
            }
            if Int.random(in: 0..<500, using: &rng) == 0, let victim = s.tasks.keys.sorted().randomElement(using: &rng) {
                s.cancel(victim)
                cancelled.insert(victim)
            }
            maxPassedOver = max(maxPassedOver, s.tasks.values.map(\.passedOver).max() ?? 0)
            for id in s.due(now: t) {
                if cancelled.contains(id) { violations.append("cancelled \(id) ran") }
                if let n = s.tasks[id]!.nominal {
                    if let previous = lastNominal[id], n <= previous { violations.append("\(id) went back on its grid") }
                    lastNominal[id] = n
                }
                ran.insert(id)
                inFlight.append((id, now + UInt64.random(in: 0...300, using: &rng) * 1_000_000))
            }
            for (id, task) in s.tasks {
                if task.running != (task.nextDue == nil) { violations.append("\(id) neither running nor scheduled") }
                guard let step = intervals[id] else { continue }
                if (task.nominal!.nanoseconds - task.anchor!.nanoseconds) % step != 0 { violations.append("\(id) off its grid") }
                if let due = task.nextDue, due < task.nominal! || due.nanoseconds - task.nominal!.nanoseconds >= step {
                    violations.append("\(id) jitter out of band")
                }
            }
        }
        #expect(violations.isEmpty, "\(violations.prefix(5))")
        let all = Set(intervals.keys).union(oneShots)
        for id in all.subtracting(cancelled) {
            #expect(s.tasks[id] != nil || finished.contains(id))  // nothing lost
            #expect(ran.contains(id))  // nothing starved
        }
        #expect(finished.isSubset(of: oneShots))
        #expect(maxPassedOver < 60)
    }

    /// With prompt completions and a clock that ticks irregularly, an interval task runs once per
    /// grid point: `floor((T − anchor)/I) + 1` times, give or take the last jittered one.
    @Test func intervalRunsMatchTheGridOverALongIrregularRun() {
        var rng = TestRNG(seed: 9)
        var s = Self.scheduler { $0.maxTasksPerTick = 16 }
        var intervals: [TaskScheduler.TaskID: UInt64] = [:]
        for i in 0..<8 {
            let ms = UInt64(200 + 137 * i)
            intervals[s.add(.custom("t\(i)"), schedule: .every(.milliseconds(ms), jitter: 0.3), now: .zero)] = ms
        }
        var now: UInt64 = 0
        let end: UInt64 = 600_000
        while now < end {
            now += UInt64.random(in: 1...90, using: &rng)
            for id in s.due(now: at(Int(now))) { s.completed(id, now: at(Int(now)), outcome: .success) }
        }
        for (id, ms) in intervals {
            let expected = Int((end - ms) / ms) + 1
            #expect(abs(s.tasks[id]!.runs - expected) <= 1, "task \(id): \(s.tasks[id]!.runs) runs, expected ≈\(expected)")
        }
    }
}

@Suite struct OrchestrationTopologyTests {
    static let me = peer(1)

    static func topology(_ edit: (inout TopologyManager.Configuration) -> Void = { _ in }) -> TopologyManager {
        var c = TopologyManager.Configuration()
        edit(&c)
        return TopologyManager(localPeer: me, configuration: c)
    }

    @Test func reputationRisesWithSuccessesFallsWithFailuresAndDecaysToThePrior() {
        var t = Self.topology { $0.reputationHalfLife = .seconds(60) }
        let good = peer(2), bad = peer(3)
        #expect(t.reputation(of: good, now: at(0)) == 0.5)
        for _ in 0..<8 { t.apply(.succeeded(good), now: at(0)) }
        for _ in 0..<8 { t.apply(.failed(bad), now: at(0)) }
        #expect(abs(t.reputation(of: good, now: at(0)) - 9.0 / 10) < 1e-9)
        #expect(abs(t.reputation(of: bad, now: at(0)) - 1.0 / 10) < 1e-9)
        #expect(t.isKnownBad(bad, now: at(0)) && !t.isKnownBad(good, now: at(0)))
        // One half-life: the evidence halves (4 successes): (4 + 1) / (4 + 2).
        #expect(abs(t.reputation(of: good, now: at(60_000)) - 5.0 / 6) < 1e-9)
        #expect(!t.isKnownBad(bad, now: at(120_000)))  // 2 failures left: not enough evidence
        #expect(abs(t.reputation(of: bad, now: at(3_600_000)) - 0.5) < 1e-6)
        let r = t.reputation(of: bad, now: at(30_000))
        #expect(r >= 0 && r <= 1)
    }

    @Test func bandwidthIsAnEWMAOfTransferRatesIgnoringTinyTransfers() {
        var t = Self.topology { $0.bandwidthAlpha = 0.25 }
        let p = peer(2)
        t.apply(.transfer(p, bytes: 1_000_000, duration: .seconds(1)), now: at(0))
        #expect(t.peers[p]!.bandwidth == 1_000_000)
        t.apply(.transfer(p, bytes: 2_000_000, duration: .milliseconds(500)), now: at(1))  // 4 MB/s
        #expect(abs(t.peers[p]!.bandwidth! - 1_750_000) < 1e-6)
        t.apply(.transfer(p, bytes: 100, duration: .microseconds(1)), now: at(2))  // too small to measure
        #expect(abs(t.peers[p]!.bandwidth! - 1_750_000) < 1e-6)
        #expect(t.peers[p]!.bytesTransferred == 3_000_100)
        #expect(t.reputation(of: p, now: at(2)) > 0.5)  // transfers count as successes
    }

    @Test func latencyIsSmoothed() {
        var t = Self.topology { $0.latencyAlpha = 0.5 }
        let p = peer(2)
        t.apply(.latency(p, .milliseconds(100)), now: at(0))
        t.apply(.latency(p, .milliseconds(200)), now: at(1))
        #expect(t.peers[p]!.latency == .milliseconds(150))
    }

    @Test func hopsAreBreadthFirstOverConnectionsAndReportedNeighbours() {
        var t = Self.topology()
        let (a, b, c, d, e) = (peer(2), peer(3), peer(4), peer(5), peer(6))
        t.apply(.connected(a), now: at(0))
        t.apply(.connected(b), now: at(0))
        t.apply(.neighbours(a, [c, Self.me]), now: at(0))
        t.apply(.neighbours(d, [c]), now: at(0))  // reported by d, edge is undirected
        t.apply(.neighbours(b, [d]), now: at(0))
        t.apply(.latency(e, .milliseconds(5)), now: at(0))  // known but unreachable
        let hops = t.hopCounts()
        #expect(hops[a] == 1 && hops[b] == 1 && hops[c] == 2 && hops[d] == 2)
        #expect(hops[e] == nil && hops[Self.me] == nil)
        t.apply(.disconnected(b), now: at(1))
        #expect(t.hops(to: d) == 3)  // now only through a → c → d
        #expect(t.hops(to: b) == 4)
    }

    @Test func joinAndLeaveKeepMetricsAndTheLocalPeerIsNeverAdded() {
        var t = Self.topology()
        let p = peer(2), addr = try! Multiaddr("/ip4/10.0.0.1/tcp/4001")
        t.apply(.connected(p, addrs: [addr]), now: at(5))
        t.apply(.latency(p, .milliseconds(40)), now: at(6))
        #expect(t.connectedCount == 1 && t.peers[p]!.joinedAt == at(5))
        t.apply(.disconnected(p), now: at(7))
        #expect(t.connectedCount == 0 && t.peers[p]!.latency == .milliseconds(40) && t.peers[p]!.addrs == [addr])
        t.apply(.connected(Self.me), now: at(8))
        #expect(t.peers[Self.me] == nil)
        t.apply(.forget(p), now: at(9))
        #expect(t.count == 0)
    }

    @Test func peerCapForgetsTheDisconnectedPeerSeenLongestAgo() {
        var t = Self.topology { $0.maxPeers = 3 }
        let (a, b, c, d) = (peer(2), peer(3), peer(4), peer(5))
        t.apply(.connected(a), now: at(0))
        t.apply(.succeeded(b), now: at(1))
        t.apply(.succeeded(c), now: at(2))
        t.apply(.succeeded(d), now: at(3))
        #expect(Set(t.peers.keys) == [a, c, d])  // a is connected, b was oldest
    }

    @Test func optimalPeersAreConnectedCapableAndBestFirst() {
        var t = Self.topology()
        let (storage, client, unknown, bad, offline) = (peer(2), peer(3), peer(4), peer(5), peer(6))
        for p in [storage, client, unknown, bad] { t.apply(.connected(p), now: at(0)) }
        t.apply(.identified(storage, .storage), now: at(0))
        t.apply(.identified(client, .client), now: at(0))
        t.apply(.identified(offline, .storage), now: at(0))
        for _ in 0..<5 { t.apply(.failed(bad), now: at(0)) }
        #expect(t.optimalPeers(count: 10, for: .storesReplicas, now: at(0)) == [storage, unknown])
        #expect(t.optimalPeers(count: 1, for: .storesReplicas, now: at(0)) == [storage])
        #expect(Set(t.optimalPeers(count: 10, now: at(0))) == [storage, client, unknown])
    }

    @Test func replicationTargetsExcludeSelfNonStoringBadAndExcludedPeers() {
        var t = Self.topology()
        let (storage, client, relay, bad, excluded, unknown) = (peer(2), peer(3), peer(4), peer(5), peer(6), peer(7))
        t.apply(.identified(storage, .storage), now: at(0))
        t.apply(.identified(client, .client), now: at(0))
        t.apply(.identified(relay, .relay), now: at(0))
        for _ in 0..<5 { t.apply(.failed(bad), now: at(0)) }
        let candidates = [Self.me, client, relay, bad, excluded, unknown, storage, storage]
        let targets = t.replicationTargets(for: Array("bundle".utf8), candidates: candidates, count: 10,
                                           excluding: [excluded], now: at(0))
        #expect(targets == [storage, unknown])  // the declared storage node first, no duplicates
        #expect(t.replicationTargets(for: [], candidates: candidates, count: 0, now: at(0)).isEmpty)
    }

    @Test func replicationTargetsFollowXORDistanceWithinATier() {
        let t = Self.topology()
        let key = Array("some content".utf8)
        let candidates = (10..<30).map { peer(UInt8($0)) }
        let target = KadKey(hashing: key)
        let expected = candidates.sorted { $0.dhtKey.distance(to: target) < $1.dhtKey.distance(to: target) }
        #expect(t.replicationTargets(for: key, candidates: candidates.reversed(), count: 5, now: at(0)) == Array(expected.prefix(5)))
    }

    @Test func replicationTargetsPreferDistinctSubnetsWhenAvailable() {
        var t = Self.topology()
        let key = Array("diverse".utf8)
        let candidates = (10..<20).map { peer(UInt8($0)) }
        let target = KadKey(hashing: key)
        let byDistance = candidates.sorted { $0.dhtKey.distance(to: target) < $1.dhtKey.distance(to: target) }
        // The four closest share 10.0.0.0/24; the rest are each in their own /24.
        for (i, p) in byDistance.enumerated() {
            let addr = i < 4 ? "/ip4/10.0.0.\(i + 1)/tcp/4001" : "/ip4/10.0.\(i).1/tcp/4001"
            t.apply(.identified(p, .storage, addrs: [try! Multiaddr(addr)]), now: at(0))
        }
        let three = t.replicationTargets(for: key, candidates: candidates, count: 3, now: at(0))
        #expect(three == [byDistance[0], byDistance[4], byDistance[5]])
        // With too few other subnets, the same /24 fills the remaining places.
        let few = Array(byDistance.prefix(5))
        #expect(t.replicationTargets(for: key, candidates: few, count: 3, now: at(0)) == [byDistance[0], byDistance[4], byDistance[1]])
        #expect(TopologyManager.networkGroup([try! Multiaddr("/dns4/example.com/tcp/1")]) == nil)
        #expect(TopologyManager.networkGroup([try! Multiaddr("/ip6/2001:db8:1:2::1/tcp/1")]) ==
                TopologyManager.networkGroup([try! Multiaddr("/ip6/2001:db8:1:ffff::9/tcp/1")]))
    }

    @Test func replicationTargetsPutProvenStorersBeforeUnprovenAndPoorPeersLast() {
        var t = Self.topology()
        let (proven, unproven, poor) = (peer(2), peer(3), peer(4))
        t.apply(.identified(proven, .storage), now: at(0))
        t.apply(.succeeded(proven), now: at(0))
        t.apply(.failed(poor), now: at(0))  // below the prior, not yet bad
        #expect(t.replicationTargets(for: [1], candidates: [poor, unproven, proven], count: 3, now: at(0)) == [proven, unproven, poor])
    }
}

@Suite struct OrchestrationRouterTests {
    static let me = peer(1)
    static let (a, b, c, d) = (peer(2), peer(3), peer(4), peer(5))

    /// A: fast, thin, far, fair. B: slow, fat, adjacent, poor. C: middling, good pipe, 2 hops, excellent.
    /// D: never seen.
    static func crafted() -> TopologyManager {
        var t = TopologyManager(localPeer: me)
        t.apply(.connected(b), now: at(0))
        t.apply(.neighbours(b, [c]), now: at(0))
        t.apply(.neighbours(c, [a]), now: at(0))
        t.apply(.latency(a, .milliseconds(20)), now: at(0))
        t.apply(.latency(b, .milliseconds(200)), now: at(0))
        t.apply(.latency(c, .milliseconds(80)), now: at(0))
        t.apply(.transfer(a, bytes: 100_000, duration: .seconds(1)), now: at(0))
        t.apply(.transfer(b, bytes: 10_000_000, duration: .seconds(1)), now: at(0))
        t.apply(.failed(b), now: at(0))
        t.apply(.failed(b), now: at(0))
        t.apply(.transfer(c, bytes: 2_000_000, duration: .seconds(1)), now: at(0))
        for _ in 0..<9 { t.apply(.succeeded(c), now: at(0)) }
        return t
    }

    static let providers = [a, b, c, d].map { KadMessage.Peer(id: $0) }

    func order(_ strategy: ContentRouter.Strategy, _ t: TopologyManager = crafted()) -> [PeerID] {
        ContentRouter().rank(Self.providers, topology: t, strategy: strategy, now: at(0)).map(\.id)
    }

    @Test func latencyStrategyPrefersTheFastestAndPlacesUnknownAtTheReference() {
        #expect(order(.latency) == [Self.a, Self.c, Self.d, Self.b])
    }

    @Test func bandwidthStrategyPrefersTheWidestPipe() {
        #expect(order(.bandwidth) == [Self.b, Self.c, Self.d, Self.a])
    }

    @Test func hopsStrategyPrefersTheNearest() {
        // C (2 hops) and D (unknown) both score 0.5: the balanced score breaks the tie.
        #expect(order(.hops) == [Self.b, Self.c, Self.d, Self.a])
    }

    @Test func reputationStrategyPrefersTheMostReliable() {
        #expect(order(.reputation) == [Self.c, Self.a, Self.d, Self.b])
    }

    @Test func hybridScoreIsTheWeightedMeanOfTheGoodnessValues() {
        let router = ContentRouter(), t = Self.crafted()
        let w = ContentRouter.Weights(latency: 1, bandwidth: 2, hops: 3, reputation: 4)
        let s = router.score(Self.c, weights: w, topology: t, now: at(0))
        #expect(abs(s.total - (1 * s.latency + 2 * s.bandwidth + 3 * s.hops + 4 * s.reputation) / 10) < 1e-12)
        #expect(abs(s.latency - 100.0 / 180) < 1e-12 && abs(s.bandwidth - 2.0 / 3) < 1e-12 && s.hops == 0.5)
        #expect(order(.hybrid(.balanced)).first == Self.c)
    }

    @Test func hybridRankIsMonotonicInAMetricsWeightAndInThePeersMetric() {
        let t = Self.crafted()
        var previous = Int.max
        for step in 0...10 {  // raising the latency weight never pushes the fastest peer down
            let w = ContentRouter.Weights(latency: Double(step), bandwidth: 0.2, hops: 0.1, reputation: 0.4)
            let rank = order(.hybrid(w), t).firstIndex(of: Self.a)!
            #expect(rank <= previous)
            previous = rank
        }
        #expect(previous == 0)
        var lastScore = -1.0
        for ms in [1_000, 400, 200, 100, 50, 10, 1] {  // a faster peer never scores lower
            var u = t
            for _ in 0..<40 { u.apply(.latency(Self.b, .milliseconds(Int64(ms))), now: at(0)) }
            let score = ContentRouter().score(Self.b, weights: .balanced, topology: u, now: at(0)).total
            #expect(score >= lastScore)
            lastScore = score
        }
    }

    @Test func unknownPeersRankAboveKnownPoorOnesSoTheyGetTried() {
        var t = TopologyManager(localPeer: Self.me)
        let (slow, fresh) = (peer(8), peer(9))
        t.apply(.latency(slow, .milliseconds(900)), now: at(0))
        t.apply(.failed(slow), now: at(0))
        let ranked = ContentRouter().rank([KadMessage.Peer(id: slow), KadMessage.Peer(id: fresh)], topology: t, now: at(0))
        #expect(ranked.map(\.id) == [fresh, slow])
    }

    @Test func tiesKeepInputOrderSelfIsDroppedDuplicatesMergeAndBadPeersGoLast() {
        var t = TopologyManager(localPeer: Self.me)
        let bad = peer(9)
        for _ in 0..<6 { t.apply(.failed(bad), now: at(0)) }
        let x = try! Multiaddr("/ip4/10.0.0.1/tcp/1"), y = try! Multiaddr("/ip4/10.0.0.2/tcp/1")
        let input = [KadMessage.Peer(id: bad), KadMessage.Peer(id: Self.d, addrs: [x]), KadMessage.Peer(id: Self.me),
                     KadMessage.Peer(id: Self.a), KadMessage.Peer(id: Self.d, addrs: [y])]
        for strategy in [ContentRouter.Strategy.latency, .bandwidth, .hops, .reputation, .hybrid(.balanced)] {
            let ranked = ContentRouter().rank(input, topology: t, strategy: strategy, now: at(0))
            #expect(ranked.map(\.id) == [Self.d, Self.a, bad])
            #expect(ranked[0].addrs == [x, y])
        }
    }

    @Test func recordedOutcomesFeedTheTopologyAndStatistics() {
        var t = TopologyManager(localPeer: Self.me)
        var router = ContentRouter()
        router.record(.success(Self.a, bytes: 500_000, duration: .milliseconds(250)), into: &t, now: at(0))
        router.record(.failure(Self.b), into: &t, now: at(0))
        #expect(t.peers[Self.a]!.bandwidth == 2_000_000)
        #expect(t.reputation(of: Self.a, now: at(0)) > 0.5 && t.reputation(of: Self.b, now: at(0)) < 0.5)
        #expect(router.statistics == ContentRouter.Statistics(fetches: 2, failures: 1, bytes: 500_000))
        #expect(router.statistics.errorRate == 0.5)
        #expect(ContentRouter().rank([KadMessage.Peer(id: Self.b), KadMessage.Peer(id: Self.a)], topology: t, now: at(0)).map(\.id) == [Self.a, Self.b])
    }
}

@Suite struct OrchestrationServiceTests {
    struct Boom: Error {}

    actor Counter {
        var value = 0
        func bump() { value += 1 }
    }

    /// Polls `condition` every 5 ms for at most `limit`, returning as soon as it holds.
    /// (A generous bound: other suites' CPU-bound tests share the cooperative pool.)
    func eventually(within limit: Duration = .seconds(30), _ condition: () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return await condition()
    }

    static func service() -> OrchestrationService {
        var c = OrchestrationService.Configuration()
        c.seed = 7
        c.scheduler.initialFailureBackoff = .milliseconds(40)
        c.scheduler.maxFailureBackoff = .milliseconds(80)
        return OrchestrationService(localPeer: peer(1), configuration: c)
    }

    @Test func runsRegisteredTasksOnTheirIntervalAndRecordsFailures() async {
        let service = Self.service()
        await service.start()
        let ticks = Counter(), once = Counter()
        await service.register(.healthCheck, priority: .high, every: .milliseconds(15), jitter: 0, initialDelay: .zero) {
            await ticks.bump()
        }
        let failing = await service.register(.replication, every: .milliseconds(10), jitter: 0) { throw Boom() }
        await service.schedule(.expiryProcessing, after: .milliseconds(5)) { await once.bump() }
        #expect(await eventually { await ticks.value >= 4 })
        #expect(await eventually {
            await service.snapshot().tasks.first { $0.name == "replication" }.map { $0.failures >= 2 } == true
        })
        #expect(await once.value == 1)
        let snapshot = await service.snapshot()
        let health = snapshot.tasks.first { $0.name == "health-check" }!
        #expect(health.priority == "high" && health.runs >= 3 && health.failures == 0 && health.lastDurationMs != nil)
        #expect(snapshot.tasks.contains { $0.name == "expiry-processing" } == false)  // one-shot, done
        #expect(snapshot.failingTasks == ["replication"])
        await service.cancel(failing)
        #expect(await service.snapshot().tasks.map(\.name) == ["health-check"])
        await service.stop()
        try? await Task.sleep(for: .milliseconds(10))  // a run already started may still finish
        let after = await ticks.value
        try? await Task.sleep(for: .milliseconds(40))
        #expect(await ticks.value == after)
    }

    @Test func aTaskRegisteredWhileIdleWakesTheLoop() async {
        var c = OrchestrationService.Configuration()
        c.idleWake = .seconds(30)
        let service = OrchestrationService(localPeer: peer(1), configuration: c)
        await service.start()
        try? await Task.sleep(for: .milliseconds(10))  // the loop is asleep with nothing to do
        let ran = Counter()
        await service.schedule(.crdtSync, after: .zero) { await ran.bump() }
        #expect(await eventually { await ran.value == 1 })
        await service.stop()
    }

    @Test func ranksProvidersAndChoosesReplicationTargetsFromObservedEvents() async {
        let service = Self.service()
        let (fast, slow, flaky, storage, client) = (peer(2), peer(3), peer(4), peer(5), peer(6))
        await service.observe(.connected(fast), addrs: [])
        await service.observe(.latency(fast, .milliseconds(10)))
        await service.observe(.latency(slow, .milliseconds(400)))
        await service.record(.failure(flaky))
        await service.record(.failure(flaky))
        await service.record(.success(fast, bytes: 1 << 20, duration: .milliseconds(100)))
        let providers = [flaky, slow, fast].map { KadMessage.Peer(id: $0) }
        #expect(await service.rank(providers: providers).map(\.id) == [fast, slow, flaky])
        #expect(await service.rank(providers: providers, strategy: .hops).first?.id == fast)
        await service.observe(.identified(storage, .storage))
        await service.observe(.identified(client, .client))
        #expect(await service.replicationTargets(for: [1, 2, 3], candidates: [client, storage, peer(1)], count: 2) == [storage])
        var cm = ConnectionManager.Peer(addrs: [], bootstrap: false)
        cm.connected = true
        cm.metrics.rtt = .milliseconds(30)
        await service.ingest([slow: cm])
        #expect(await service.peer(slow)?.connected == true)
        let snapshot = await service.snapshot()
        #expect(snapshot.topology.connected == 2 && snapshot.topology.peers == 5)
        #expect(snapshot.router.fetches == 3 && snapshot.router.failures == 2)
        #expect(await service.optimalPeers(count: 1) == [fast])
    }
}

import Logging

/// The I/O shell of the SPEC §8.7 orchestration core: owns a ``TaskScheduler``,
/// a ``TopologyManager`` and a ``ContentRouter``, runs one driver loop (sleep
/// until the scheduler's next deadline, start the due tasks' closures, report
/// their completion), and answers routing questions from the topology. The
/// clock is the only I/O: every decision stays in the Sans-IO cores.
public actor OrchestrationService {
    public struct Configuration: Sendable {
        public var scheduler = TaskScheduler.Configuration()
        public var topology = TopologyManager.Configuration()
        public var router = ContentRouter.Configuration()
        /// Longest sleep when nothing is scheduled (registration wakes the loop anyway).
        public var idleWake: Duration = .seconds(60)
        /// Seed of the scheduler's jitter; nil: a random one per node (peers do not tick in lockstep).
        public var seed: UInt64?
        public init() {}
    }

    /// A task's line in ``Snapshot``.
    public struct TaskStatus: Sendable, Equatable, Codable {
        public var id: UInt64
        public var name: String
        public var priority: String
        public var runs: Int
        public var failures: Int
        public var consecutiveFailures: Int
        public var running: Bool
        public var lastDurationMs: Double?
        /// Milliseconds until the next run (0 when due now, nil while running or finished).
        public var nextDueInMs: Double?
    }

    public struct TopologyStatus: Sendable, Equatable, Codable {
        public var peers: Int
        public var connected: Int
        public var reportedEdges: Int
        /// Mean smoothed round trip of connected peers with a measurement (ms), 0 if none.
        public var averageLatencyMs: Double
        /// Mean reputation of connected peers (the prior if none).
        public var averageReputation: Double
        public var knownBad: Int
    }

    /// Monitor data of the orchestration core (for status endpoints and logs).
    public struct Snapshot: Sendable, Equatable, Codable {
        public var tasks: [TaskStatus]
        public var topology: TopologyStatus
        public var router: ContentRouter.Statistics
        /// Tasks whose last run failed.
        public var failingTasks: [String]
    }

    public typealias Body = @Sendable () async throws -> Void

    private var scheduler: TaskScheduler
    private var topology: TopologyManager
    private var router: ContentRouter
    private var bodies: [TaskScheduler.TaskID: Body] = [:]
    private var running: [TaskScheduler.TaskID: Task<Void, Never>] = [:]
    private let configuration: Configuration
    private let clock: NetworkClock
    private var driver: Task<Void, Never>?
    private var sleeper: Task<Void, Never>?
    private var stopped = false
    private let logger: Logger

    public init(localPeer: PeerID, configuration: Configuration = .init(),
                clock: NetworkClock = .system(), random: NetworkRandom = .system(),
                logger: Logger = Logger(label: "vivim.orchestration")) {
        self.clock = clock
        var schedulerConfig = configuration.scheduler
        schedulerConfig.seed = configuration.seed ?? random.next()
        self.scheduler = TaskScheduler(configuration: schedulerConfig)
        self.topology = TopologyManager(localPeer: localPeer, configuration: configuration.topology)
        self.router = ContentRouter(configuration: configuration.router)
        self.configuration = configuration
        self.logger = logger
    }

    private var now: NetworkInstant { clock.now }

    /// Starts the driver loop (idempotent).
    public func start() {
        guard driver == nil, !stopped else { return }
        driver = Task { [weak self] in await self?.drive() }
    }

    /// Stops the loop and cancels runs in progress (their closures see `Task.isCancelled`).
    public func stop() {
        stopped = true
        driver?.cancel()
        sleeper?.cancel()
        for t in running.values { t.cancel() }
        driver = nil
        sleeper = nil
        running = [:]
    }

    // MARK: tasks

    /// Runs `body` every `interval` (jittered by up to `jitter·interval`, first after
    /// `initialDelay`, default one interval). A thrown error counts as a failure and
    /// backs the task off.
    @discardableResult
    public func register(_ kind: TaskScheduler.Kind, priority: TaskScheduler.Priority = .normal, every interval: Duration,
                         jitter: Double = 0.1, initialDelay: Duration? = nil, _ body: @escaping Body) -> TaskScheduler.TaskID {
        add(kind, priority: priority, schedule: .every(interval, jitter: jitter, initialDelay: initialDelay), body)
    }

    /// Runs `body` once after `delay` (retried with backoff if it throws).
    @discardableResult
    public func schedule(_ kind: TaskScheduler.Kind, priority: TaskScheduler.Priority = .normal, after delay: Duration,
                         _ body: @escaping Body) -> TaskScheduler.TaskID {
        add(kind, priority: priority, schedule: .at(now + max(delay, .zero)), body)
    }

    public func cancel(_ id: TaskScheduler.TaskID) {
        scheduler.cancel(id)
        bodies[id] = nil
    }

    private func add(_ kind: TaskScheduler.Kind, priority: TaskScheduler.Priority, schedule: TaskScheduler.Schedule,
                     _ body: @escaping Body) -> TaskScheduler.TaskID {
        let id = scheduler.add(kind, priority: priority, schedule: schedule, now: now)
        bodies[id] = body
        sleeper?.cancel()  // the new task may be due before the loop's current deadline
        return id
    }

    // MARK: driver

    /// At most ``TaskScheduler/Configuration/maxTasksPerTick`` runs are in flight: due tasks
    /// beyond that wait (and age) until a run completes and wakes the loop.
    private func drive() async {
        let budget = max(1, configuration.scheduler.maxTasksPerTick)
        while !stopped && !Task.isCancelled {
            if running.count < budget { runDue(limit: budget - running.count) }
            var wait = scheduler.nextDeadline.map { $0 - now } ?? configuration.idleWake
            if wait <= .zero {
                guard running.count >= budget else { await Task.yield(); continue }
                wait = configuration.idleWake  // full: a completion wakes the loop
            }
            let delay = min(wait, configuration.idleWake)
            let nap = Task { _ = try? await Task.sleep(for: delay) }
            sleeper = nap
            await nap.value
            sleeper = nil
        }
    }

    private func runDue(limit: Int) {
        for id in scheduler.due(now: now, limit: limit) {
            guard let body = bodies[id] else {
                scheduler.completed(id, now: now, outcome: .failure)
                continue
            }
            let name = scheduler.tasks[id]?.name ?? "\(id)"
            let logger = self.logger
            running[id] = Task { [weak self] in
                let outcome: TaskScheduler.Outcome
                do {
                    try await body()
                    outcome = .success
                } catch {
                    logger.debug("task failed", metadata: ["task": "\(name)", "error": "\(error)"])
                    outcome = .failure
                }
                await self?.finished(id, outcome)
            }
        }
    }

    private func finished(_ id: TaskScheduler.TaskID, _ outcome: TaskScheduler.Outcome) {
        running[id] = nil
        guard !stopped else { return }
        scheduler.completed(id, now: now, outcome: outcome)
        if scheduler.tasks[id] == nil { bodies[id] = nil }  // a one-shot task is done
        sleeper?.cancel()  // rescheduled, or budget freed for waiting tasks
    }

    // MARK: topology and routing

    /// Feeds a peer event or measurement into the topology.
    public func observe(_ event: TopologyManager.Event) { topology.apply(event, now: now) }

    /// Convenience for ``ConnectionManagerService`` events.
    public func observe(_ event: ConnectionManagerService.PeerEvent, addrs: [Multiaddr] = []) {
        switch event {
        case .connected(let p): topology.apply(.connected(p, addrs: addrs), now: now)
        case .disconnected(let p): topology.apply(.disconnected(p), now: now)
        }
    }

    /// Copies the connection manager's view (connected state, addresses, smoothed RTT).
    public func ingest(_ peers: [PeerID: ConnectionManager.Peer]) {
        let t = now
        for (id, p) in peers.sorted(by: { $0.key < $1.key }) {
            let known = topology.peers[id]
            if p.connected && known?.connected != true { topology.apply(.connected(id, addrs: p.addrs), now: t) }
            if !p.connected && known?.connected == true { topology.apply(.disconnected(id), now: t) }
            if let rtt = p.metrics.rtt, known?.latency != rtt { topology.apply(.latency(id, rtt), now: t) }
        }
    }

    /// Providers best first under `strategy` (default: the configured one).
    public func rank(providers: [KadMessage.Peer], strategy: ContentRouter.Strategy? = nil) -> [KadMessage.Peer] {
        router.rank(providers, topology: topology, strategy: strategy, now: now)
    }

    /// Replica holders for `key` chosen among `candidates` (see ``TopologyManager/replicationTargets(for:candidates:count:excluding:now:)``).
    public func replicationTargets(for key: [UInt8], candidates: [PeerID], count: Int,
                                   excluding: Set<PeerID> = []) -> [PeerID] {
        topology.replicationTargets(for: key, candidates: candidates, count: count, excluding: excluding, now: now)
    }

    public func optimalPeers(count: Int, for capability: TopologyManager.Capability? = nil) -> [PeerID] {
        topology.optimalPeers(count: count, for: capability, now: now)
    }

    /// Feeds a fetch result back into the topology.
    public func record(_ outcome: ContentRouter.FetchOutcome) { router.record(outcome, into: &topology, now: now) }

    public func peer(_ id: PeerID) -> TopologyManager.Peer? { topology.peers[id] }
    public func reputation(of id: PeerID) -> Double { topology.reputation(of: id, now: now) }

    // MARK: status

    public func snapshot() -> Snapshot {
        let t = now
        let tasks = scheduler.all.map { task in
            TaskStatus(id: task.id.rawValue, name: task.name, priority: task.priority.name, runs: task.runs,
                       failures: task.failures, consecutiveFailures: task.consecutiveFailures, running: task.running,
                       lastDurationMs: task.lastDuration.map(Self.milliseconds),
                       nextDueInMs: task.nextDue.map { Self.milliseconds(max(.zero, $0 - t)) })
        }
        let connected = topology.peers.filter(\.value.connected)
        let latencies = connected.values.compactMap(\.latency).map(Self.milliseconds)
        let reputations = connected.keys.map { topology.reputation(of: $0, now: t) }
        let status = TopologyStatus(
            peers: topology.count, connected: connected.count, reportedEdges: topology.reportedEdges,
            averageLatencyMs: latencies.isEmpty ? 0 : latencies.reduce(0, +) / Double(latencies.count),
            averageReputation: reputations.isEmpty ? configuration.topology.reputationPrior
                : reputations.reduce(0, +) / Double(reputations.count),
            knownBad: topology.peers.keys.filter { topology.isKnownBad($0, now: t) }.count)
        return Snapshot(tasks: tasks, topology: status, router: router.statistics,
                        failingTasks: scheduler.all.filter { $0.lastOutcome == .failure }.map(\.name))
    }

    static func milliseconds(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    }
}

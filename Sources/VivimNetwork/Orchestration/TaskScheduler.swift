/// The task scheduler of SPEC §8.7 as a Sans-IO state machine: named
/// maintenance tasks (replication, cache eviction, DHT maintenance, health
/// checks, CRDT sync, expiry processing, …) with a priority and a schedule
/// (once `at` an instant, or `every` interval with jitter). It runs nothing and
/// reads no clock: the shell (``OrchestrationService``) asks which tasks are
/// ``due(now:)``, runs them, reports ``completed(_:now:outcome:)`` and sleeps
/// until ``nextDeadline``.
///
/// Ordering: due tasks run by priority, then by due time, then by id, at most
/// ``Configuration/maxTasksPerTick`` per call. A due task passed over for lack of
/// budget gains one priority level every ``Configuration/agingTicks`` passes
/// (aging), so a low-priority task under constant high-priority load still runs
/// within a bounded number of ticks.
///
/// Interval tasks stay on their grid `anchor + k·interval` (jitter only delays an
/// occurrence, overruns skip missed occurrences), so they never drift cumulatively.
/// A failure delays the next run by an exponential, capped backoff.
public struct TaskScheduler: Sendable {
    public struct Configuration: Sendable {
        /// Tasks handed out per ``TaskScheduler/due(now:)`` call.
        public var maxTasksPerTick = 8
        /// Passes over a due task (for lack of budget) that raise it by one priority level.
        public var agingTicks = 4
        /// Delay after the first consecutive failure; doubles per further failure up to ``maxFailureBackoff``.
        public var initialFailureBackoff: Duration = .seconds(1)
        public var maxFailureBackoff: Duration = .seconds(300)
        /// Retries of a one-shot (`at`) task that keeps failing before it is dropped.
        public var maxRetries = 5
        /// Seed of the jitter generator (the shell passes a random one; tests a fixed one).
        public var seed: UInt64 = 0x5EED
        public init() {}
    }

    public struct TaskID: Hashable, Comparable, Sendable, CustomStringConvertible {
        public let rawValue: UInt64
        public init(rawValue: UInt64) { self.rawValue = rawValue }
        public static func < (a: TaskID, b: TaskID) -> Bool { a.rawValue < b.rawValue }
        public var description: String { "task#\(rawValue)" }
    }

    /// Most urgent first: `critical < high < normal < low`.
    public enum Priority: Int, Comparable, CaseIterable, Sendable, Codable {
        case critical = 0, high, normal, low
        public static func < (a: Priority, b: Priority) -> Bool { a.rawValue < b.rawValue }
        public var name: String {
            switch self {
            case .critical: "critical"
            case .high: "high"
            case .normal: "normal"
            case .low: "low"
            }
        }
    }

    /// The periodic jobs of SPEC §8.7, plus any other.
    public enum Kind: Hashable, Sendable {
        case replication, cacheEviction, dhtMaintenance, healthCheck, crdtSync, expiryProcessing
        case custom(String)

        public var name: String {
            switch self {
            case .replication: "replication"
            case .cacheEviction: "cache-eviction"
            case .dhtMaintenance: "dht-maintenance"
            case .healthCheck: "health-check"
            case .crdtSync: "crdt-sync"
            case .expiryProcessing: "expiry-processing"
            case .custom(let name): name
            }
        }
    }

    public enum Schedule: Sendable, Equatable {
        /// Once, at the instant (retried with backoff on failure, up to ``Configuration/maxRetries``).
        case at(NetworkInstant)
        /// Repeatedly, first after `initialDelay` (default: one interval). Each occurrence is
        /// delayed by a random `U(0, jitter·interval)` (`jitter` clamped to 0…0.9).
        case every(Duration, jitter: Double = 0, initialDelay: Duration? = nil)
    }

    public enum Outcome: Sendable, Equatable {
        case success
        case failure
    }

    /// One registered task and its record.
    public struct Task: Sendable, Equatable {
        public let id: TaskID
        public let kind: Kind
        public var name: String { kind.name }
        public let priority: Priority
        public let schedule: Schedule
        /// When it runs next; nil while it runs (and never again for a finished one-shot task).
        public internal(set) var nextDue: NetworkInstant?
        /// Interval tasks: the grid point of the next occurrence (`nextDue` minus its jitter).
        public internal(set) var nominal: NetworkInstant?
        /// Interval tasks: the first grid point; every nominal is `anchor + k·interval`.
        public internal(set) var anchor: NetworkInstant?
        public internal(set) var running = false
        public internal(set) var startedAt: NetworkInstant?
        public internal(set) var runs = 0
        public internal(set) var failures = 0
        public internal(set) var consecutiveFailures = 0
        public internal(set) var lastDuration: Duration?
        public internal(set) var lastOutcome: Outcome?
        /// Times it was due but passed over for lack of budget since it last ran.
        public internal(set) var passedOver = 0
    }

    public let configuration: Configuration
    public private(set) var tasks: [TaskID: Task] = [:]
    private var nextID: UInt64 = 0
    private var rng: SplitMix64

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        rng = SplitMix64(seed: configuration.seed)
    }

    /// Registers a task; it first becomes due at its `at` instant or after its initial delay.
    @discardableResult
    public mutating func add(_ kind: Kind, priority: Priority = .normal, schedule: Schedule, now: NetworkInstant) -> TaskID {
        nextID += 1
        let id = TaskID(rawValue: nextID)
        var task = Task(id: id, kind: kind, priority: priority, schedule: schedule)
        switch schedule {
        case .at(let instant):
            task.nextDue = instant
        case .every(let interval, _, let initialDelay):
            let first = now + max(initialDelay ?? interval, .zero)
            task.anchor = first
            task.nominal = first
            task.nextDue = first + jitter(for: schedule)
        }
        tasks[id] = task
        return id
    }

    /// Removes a task; a run in progress is not interrupted, its completion is ignored.
    @discardableResult
    public mutating func cancel(_ id: TaskID) -> Bool { tasks.removeValue(forKey: id) != nil }

    /// The tasks to run now, most urgent first, at most ``Configuration/maxTasksPerTick``
    /// (and at most `limit`, e.g. the shell's free slots); each is marked running until
    /// ``completed(_:now:outcome:)``. Due tasks left out count as passed over (aging).
    public mutating func due(now: NetworkInstant, limit: Int? = nil) -> [TaskID] {
        let ready = tasks.values.filter { !$0.running && $0.nextDue.map { $0 <= now } == true }
        let ordered = ready.sorted { a, b in
            let ra = urgency(a), rb = urgency(b)
            if ra != rb { return ra < rb }
            if a.nextDue! != b.nextDue! { return a.nextDue! < b.nextDue! }
            return a.id < b.id
        }
        let budget = min(max(1, configuration.maxTasksPerTick), max(0, limit ?? .max))
        let chosen = ordered.prefix(budget)
        for t in chosen {
            tasks[t.id]!.running = true
            tasks[t.id]!.startedAt = now
            tasks[t.id]!.nextDue = nil
            tasks[t.id]!.passedOver = 0
        }
        for t in ordered.dropFirst(chosen.count) { tasks[t.id]!.passedOver += 1 }
        return chosen.map(\.id)
    }

    /// A run handed out by ``due(now:)`` ended: records it and schedules the next run.
    /// Ignored for cancelled tasks and tasks not running.
    public mutating func completed(_ id: TaskID, now: NetworkInstant, outcome: Outcome) {
        guard var task = tasks[id], task.running else { return }
        task.running = false
        task.runs += 1
        task.lastOutcome = outcome
        if let started = task.startedAt { task.lastDuration = max(.zero, now - started) }
        task.startedAt = nil
        let retryAfter: NetworkInstant?
        switch outcome {
        case .success:
            task.consecutiveFailures = 0
            retryAfter = nil
        case .failure:
            task.failures += 1
            task.consecutiveFailures += 1
            retryAfter = now + backoff(consecutiveFailures: task.consecutiveFailures)
        }
        switch task.schedule {
        case .at:
            guard let retry = retryAfter, task.consecutiveFailures <= configuration.maxRetries else {
                tasks[id] = nil  // done (or given up)
                return
            }
            task.nextDue = retry
        case .every(let interval, _, _):
            let nominal = nextGridPoint(after: task.nominal ?? now, bound: retryAfter ?? now, interval: interval)
            task.nominal = nominal
            task.nextDue = nominal + jitter(for: task.schedule)
        }
        tasks[id] = task
    }

    /// The earliest instant a task becomes due (≤ now when due tasks are waiting for budget);
    /// nil when nothing is scheduled.
    public var nextDeadline: NetworkInstant? { tasks.values.compactMap(\.nextDue).min() }

    /// Registered tasks in id order.
    public var all: [Task] { tasks.values.sorted { $0.id < $1.id } }

    /// The delay after `consecutiveFailures` failures: `min(max, initial·2^(n−1))`.
    public func backoff(consecutiveFailures n: Int) -> Duration {
        guard n > 0 else { return .zero }
        let base = configuration.initialFailureBackoff * (Int64(1) << Int64(min(n - 1, 30)))
        return min(base, configuration.maxFailureBackoff)
    }

    // MARK: helpers

    /// Levels of priority, lowered by one per ``Configuration/agingTicks`` passes (may go below critical).
    private func urgency(_ task: Task) -> Int {
        task.priority.rawValue - task.passedOver / max(1, configuration.agingTicks)
    }

    /// The first grid point `nominal + k·interval`, k ≥ 1, after `bound`: missed occurrences
    /// are skipped, not queued, and the grid never moves.
    private func nextGridPoint(after nominal: NetworkInstant, bound: NetworkInstant, interval: Duration) -> NetworkInstant {
        let step = max(interval.nanoseconds, 1)
        let behind = bound.nanoseconds > nominal.nanoseconds ? bound.nanoseconds - nominal.nanoseconds : 0
        // Saturating: near the end of the clock's range the grid stops at `.distantFuture`
        // instead of wrapping to an instant in the past (which would make the task due forever).
        let (offset, overflow) = (behind / step + 1).multipliedReportingOverflow(by: step)
        let (next, overflow2) = nominal.nanoseconds.addingReportingOverflow(offset)
        return overflow || overflow2 ? .distantFuture : NetworkInstant(nanoseconds: next)
    }

    private mutating func jitter(for schedule: Schedule) -> Duration {
        guard case .every(let interval, let fraction, _) = schedule else { return .zero }
        let j = min(max(fraction, 0), 0.9)
        guard j > 0 else { return .zero }
        let span = UInt64(Double(interval.nanoseconds) * j)
        guard span > 0 else { return .zero }
        return .nanoseconds(Int64(rng.next() % span))
    }
}

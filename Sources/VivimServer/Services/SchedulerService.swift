import Foundation
import Logging
import ServiceLifecycle
import VivimCore
import VivimPipeline
import VivimStore

/// The shell of the Sans-IO `IntentScheduler` (SPEC §5.2): under a lease in the master store (so
/// one instance sweeps at a time), it reads what is due from the persisted intents, applies each
/// transition with compare-and-set, and finishes interrupted publishes from the outbox. Time
/// comes from the server's `WallClock`, which tests drive; `tick()` runs one sweep.
final class SchedulerService: Service, Sendable {
    let master: any MasterStore
    let pipeline: PublishingPipeline
    let clock: any WallClock
    let interval: Duration
    let instanceID: String
    let logger: Logger
    private let sharingBox = SharingBox()

    init(master: any MasterStore, pipeline: PublishingPipeline, clock: any WallClock, interval: Duration, logger: Logger) {
        self.master = master
        self.pipeline = pipeline
        self.clock = clock
        self.interval = interval
        self.instanceID = UUID().uuidString
        self.logger = logger
    }

    func attach(_ sharing: SharingService) { sharingBox.set(sharing) }

    /// One sweep: every due transition, then the outbox. Returns how many transitions were due.
    @discardableResult
    func tick(batch: Int = 1_000) async throws -> Int {
        let now = clock.now
        // A short lease, renewed on every sweep: an instance that dies hands over within seconds.
        let leaseTime = max(10, 5 * Double(interval.components.seconds))
        guard try await master.acquireLease("scheduler", holder: instanceID, until: now.addingTimeInterval(leaseTime), now: now),
              let sharing = sharingBox.value
        else { return 0 }
        var applied = 0
        for _ in 0..<1_000 {
            let candidates = try await master.schedulerCandidates(now: now, limit: batch)
            let facts = try await schedulerFacts(for: candidates)
            let due = IntentScheduler.dueTransitions(in: candidates, facts: facts, now: now)
            try await sharing.apply(due, intents: Dictionary(candidates.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first }))
            applied += due.count
            // Candidates that stay (condition intents not yet due) would repeat forever; stop
            // when a batch moved nothing or was not full.
            if due.isEmpty || candidates.count < batch { break }
        }
        await pipeline.recover()
        return applied
    }

    private func schedulerFacts(for intents: [SharingIntent]) async throws -> SchedulerFacts {
        var facts = SchedulerFacts()
        facts.viewCounts = try await master.viewCounts(of: intents.filter { $0.spec.maxViews != nil }.map(\.id))
        // For each condition circle, which of the recipients who depend on it are members now.
        var recipients: [CircleID: Set<DID>] = [:]
        for intent in intents {
            guard case .condition(.recipientLeavesCircle(let circle)) = intent.spec.expiration else { continue }
            recipients[circle, default: []].formUnion(intent.spec.audience.userDIDs)
        }
        for (circle, dids) in recipients {
            var members: Set<DID> = []
            for did in dids where try await master.member(did, of: circle) != nil { members.insert(did) }
            facts.circleMembers[circle] = members
        }
        return facts
    }

    /// Asks for a sweep soon (a view budget was spent, a member left a circle).
    func sweepSoon() {
        Task { [self] in
            do { try await tick() } catch { logger.warning("scheduler sweep failed", metadata: ["error": "\(error)"]) }
        }
    }

    func run() async throws {
        while !Task.isCancelledOrShuttingDown {
            do { try await tick() } catch {
                logger.warning("scheduler sweep failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
        }
    }
}

/// Late binding of the sharing service (which itself needs the scheduler's pipeline).
private final class SharingBox: @unchecked Sendable {
    private let lock = NSLock()
    private var sharing: SharingService?
    func set(_ value: SharingService) { lock.withLock { sharing = value } }
    var value: SharingService? { lock.withLock { sharing } }
}

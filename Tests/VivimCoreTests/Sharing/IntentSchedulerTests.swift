import Foundation
import Testing
import VivimCore

/// The scheduler's shell in miniature: intents persisted as JSON (what survives a restart),
/// a sweep that applies due transitions with compare-and-set, and a log of what was applied.
private struct SchedulerHarness {
    var persisted: Data
    var applied: [TransitionKey] = []
    var facts = SchedulerFacts()

    init(_ intents: [SharingIntent]) throws {
        persisted = try JSONEncoder().encode(intents)
    }

    func intents() throws -> [SharingIntent] { try JSONDecoder().decode([SharingIntent].self, from: persisted) }

    mutating func sweep(at now: Date) throws -> [ScheduledTransition] {
        var stored = Dictionary(uniqueKeysWithValues: try intents().map { ($0.id, $0) })
        let due = IntentScheduler.dueTransitions(in: stored.values, facts: facts, now: now)
        for transition in due {
            if case .applied(let next) = IntentScheduler.apply(transition, to: stored[transition.key.intentID]!, at: now) {
                stored[next.id] = next
                applied.append(transition.key)
            }
        }
        persisted = try JSONEncoder().encode(stored.values.sorted { $0.id < $1.id })
        return due
    }

    func intent(_ id: IntentID) throws -> SharingIntent { try intents().first { $0.id == id }! }
}

@Suite struct IntentSchedulerTests {
    let owner = SharingFixtures.did(1), alice = SharingFixtures.did(2), bob = SharingFixtures.did(3)
    let content: ContentID = SharingFixtures.id(1)
    let circle: CircleID = SharingFixtures.id(10)

    func scheduled(_ id: IntentID = SharingFixtures.id(100), publishIn: TimeInterval?, expireIn: TimeInterval?, from start: Date,
                   expiration: Expiration? = nil, audience: Audience = .public, status: IntentStatus = .validated) -> SharingIntent {
        SharingFixtures.intent(id: id, owner: owner, content: [content], audience: audience, status: status,
                               schedule: Schedule(publishAt: publishIn.map(start.addingTimeInterval), expiresAt: expireIn.map(start.addingTimeInterval)),
                               expiration: expiration)
    }

    @Test func aScheduledIntentGoesLiveAtPublishAtAndExpiresAtExpiresAt() throws {
        let clock = ManualClock()
        let start = clock.now
        let intent = scheduled(publishIn: 60, expireIn: 120, from: start)
        var harness = try SchedulerHarness([intent])

        #expect(try harness.sweep(at: clock.now).isEmpty)
        #expect(IntentScheduler.nextWakeUp(for: try harness.intents(), after: clock.now) == start.addingTimeInterval(60))
        clock.advance(by: 59.999)
        #expect(try harness.sweep(at: clock.now).isEmpty)
        clock.advance(by: 0.001)
        #expect(try harness.sweep(at: clock.now).map(\.cause) == [.publishAt])
        let live = try harness.intent(intent.id)
        #expect(live.status == .active && live.publishedAt == start.addingTimeInterval(60) && live.version == intent.version + 1)
        #expect(IntentScheduler.nextWakeUp(for: try harness.intents(), after: clock.now) == start.addingTimeInterval(120))

        clock.advance(by: 60)
        #expect(try harness.sweep(at: clock.now).map(\.cause) == [.expiresAt])
        #expect(try harness.intent(intent.id).status == .expired)
        #expect(try harness.sweep(at: clock.now).isEmpty)
        #expect(IntentScheduler.nextWakeUp(for: try harness.intents(), after: clock.now) == nil)
    }

    @Test func downtimeAcrossBothInstantsPublishesThenExpiresWithTheScheduledTimes() throws {
        let clock = ManualClock()
        let start = clock.now
        let intent = scheduled(publishIn: 60, expireIn: 120, from: start)
        var harness = try SchedulerHarness([intent])
        // The server is down from `start` until long after both instants; a new process
        // starts from the persisted bytes alone.
        clock.advance(by: 3600)
        var restarted = try SchedulerHarness(try harness.intents())
        let due = try restarted.sweep(at: clock.now)
        #expect(due.map(\.key) == [TransitionKey(intentID: intent.id, version: 1, target: .active),
                                   TransitionKey(intentID: intent.id, version: 2, target: .expired)])
        let expired = try restarted.intent(intent.id)
        #expect(expired.status == .expired)
        #expect(expired.publishedAt == start.addingTimeInterval(60))
        #expect(expired.expiresAt == start.addingTimeInterval(120))
        #expect(expired.updatedAt == clock.now)
        _ = try harness.sweep(at: clock.now)
        #expect(harness.applied == restarted.applied)
    }

    @Test func replayingTransitionsAfterACrashChangesNothing() throws {
        let clock = ManualClock()
        let intent = scheduled(publishIn: 10, expireIn: nil, from: clock.now)
        clock.advance(by: 10)
        let due = IntentScheduler.dueTransitions(in: [intent], facts: SchedulerFacts(), now: clock.now)
        guard case .applied(let live) = IntentScheduler.apply(due[0], to: intent, at: clock.now) else {
            Issue.record("the publish should apply")
            return
        }
        // The process died after storing `live` but before acknowledging: the shell replays.
        #expect(IntentScheduler.apply(due[0], to: live, at: clock.now) == .alreadyApplied)
        #expect(IntentScheduler.dueTransitions(in: [live], facts: SchedulerFacts(), now: clock.now).isEmpty)
        // Revoked in the meantime: the stale transition is dropped, not forced through.
        let revoked = try live.moved(to: .revoked, at: clock.now)
        let staleExpiry = ScheduledTransition(key: TransitionKey(intentID: live.id, version: live.version, target: .expired),
                                              from: .active, dueAt: clock.now, cause: .expiresAt)
        #expect(IntentScheduler.apply(staleExpiry, to: revoked, at: clock.now) == .superseded)
        #expect(IntentScheduler.apply(due[0], to: revoked, at: clock.now) == .superseded)
    }

    @Test func aSpentViewBudgetExpiresTheIntent() throws {
        let clock = ManualClock()
        let intent = scheduled(publishIn: nil, expireIn: nil, from: clock.now, expiration: .access(maxViews: 3), status: .active)
        #expect(IntentScheduler.dueTransitions(in: [intent], facts: SchedulerFacts(viewCounts: [intent.id: 2]), now: clock.now).isEmpty)
        let due = IntentScheduler.dueTransitions(in: [intent], facts: SchedulerFacts(viewCounts: [intent.id: 3]), now: clock.now)
        #expect(due.map(\.cause) == [.viewBudget])
        guard case .applied(let expired) = IntentScheduler.apply(due[0], to: intent, at: clock.now) else {
            Issue.record("the expiry should apply")
            return
        }
        #expect(expired.status == .expired && expired.expiresAt == clock.now)
    }

    @Test func theIntentExpiresWhenNoRecipientIsLeftInTheCircle() {
        let now = ManualClock().now
        let intent = scheduled(publishIn: nil, expireIn: nil, from: now, expiration: .condition(.recipientLeavesCircle(circle)),
                               audience: .users([alice, bob]), status: .active)
        func due(_ members: [CircleID: Set<DID>]) -> [TransitionCause] {
            IntentScheduler.dueTransitions(in: [intent], facts: SchedulerFacts(circleMembers: members), now: now).map(\.cause)
        }
        #expect(due([circle: [alice, bob, owner]]).isEmpty)
        #expect(due([circle: [bob]]).isEmpty)
        #expect(due([circle: [owner]]) == [.condition])
        #expect(due([:]) == [.condition])
    }

    @Test func onlyValidatedAndActiveIntentsAreScheduled() {
        let clock = ManualClock()
        let start = clock.now
        clock.advance(by: 600)
        for status in IntentStatus.allCases {
            let intent = scheduled(publishIn: 60, expireIn: 120, from: start, status: status)
            let targets = IntentScheduler.dueTransitions(in: [intent], facts: SchedulerFacts(), now: clock.now).map(\.key.target)
            switch status {
            case .validated: #expect(targets == [.active, .expired])
            case .active: #expect(targets == [.expired])
            default: #expect(targets.isEmpty, "status \(status)")
            }
        }
        // Without publishAt, a VALIDATED intent waits for an explicit publish.
        #expect(IntentScheduler.dueTransitions(in: [scheduled(publishIn: nil, expireIn: nil, from: start)], facts: SchedulerFacts(), now: clock.now).isEmpty)
    }

    @Test func theOrderIsDeterministicAndCursorPagesCoverItExactlyOnce() {
        var rng = SplitMix64(seed: 5)
        let start = SharingFixtures.epoch
        let intents = (0..<300).map { n in
            scheduled(SharingFixtures.id(UInt64(n)), publishIn: Double(Int.random(in: 0...50, using: &rng)),
                      expireIn: rng.chance(0.5) ? Double(Int.random(in: 51...100, using: &rng)) : nil, from: start,
                      status: rng.chance(0.5) ? .validated : .active)
        }
        let now = start.addingTimeInterval(75)
        let all = IntentScheduler.dueTransitions(in: intents, facts: SchedulerFacts(), now: now)
        #expect(IntentScheduler.dueTransitions(in: intents.shuffled(using: &rng), facts: SchedulerFacts(), now: now) == all)
        #expect(zip(all, all.dropFirst()).allSatisfy { $0.cursor < $1.cursor })

        var paged: [ScheduledTransition] = [], cursor: SchedulerCursor?
        while true {
            let page = IntentScheduler.dueTransitions(in: intents, facts: SchedulerFacts(), now: now, after: cursor, limit: 37)
            guard let last = page.last else { break }
            paged += page
            cursor = last.cursor
        }
        #expect(paged == all)
        #expect(Set(all.map(\.key)).count == all.count)
    }
}

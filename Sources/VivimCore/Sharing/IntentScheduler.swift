import Foundation

/// Why the scheduler moves an intent (SPEC §5.2).
public enum TransitionCause: String, WireEnum {
    case publishAt = "PUBLISH_AT", expiresAt = "EXPIRES_AT", viewBudget = "VIEW_BUDGET", condition = "CONDITION"
}

/// Names one transition exactly: the intent, the version it applies to, and the target
/// state. Applying a key twice is harmless (the second time the version has moved on), so a
/// store can also use `description` as a unique key for the audit entry or event it writes.
public struct TransitionKey: Hashable, Sendable, Codable, CustomStringConvertible {
    public var intentID: IntentID
    public var version: Int
    public var target: IntentStatus

    public init(intentID: IntentID, version: Int, target: IntentStatus) {
        self.intentID = intentID
        self.version = version
        self.target = target
    }

    public var description: String { "\(intentID)@\(version)->\(target.rawValue)" }
}

/// A transition that is due: move `key.intentID` from `from` (at `key.version`) to `key.target`.
public struct ScheduledTransition: Sendable, Equatable {
    public var key: TransitionKey
    public var from: IntentStatus
    /// When it became due: the scheduled instant for time causes, the sweep's `now` otherwise.
    public var dueAt: Date
    public var cause: TransitionCause

    public init(key: TransitionKey, from: IntentStatus, dueAt: Date, cause: TransitionCause) {
        self.key = key
        self.from = from
        self.dueAt = dueAt
        self.cause = cause
    }

    /// Position in the scheduler's order: due time, then intent id, then version.
    public var cursor: SchedulerCursor { SchedulerCursor(dueAt: dueAt, intentID: key.intentID, version: key.version) }
}

/// A position in the order of due transitions, for paging through one sweep.
public struct SchedulerCursor: Sendable, Equatable, Codable, Comparable {
    public var dueAt: Date
    public var intentID: IntentID
    public var version: Int

    public init(dueAt: Date, intentID: IntentID, version: Int) {
        self.dueAt = dueAt
        self.intentID = intentID
        self.version = version
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.dueAt, lhs.intentID.rawValue, lhs.version) < (rhs.dueAt, rhs.intentID.rawValue, rhs.version)
    }
}

/// What the scheduler needs besides the intents.
public struct SchedulerFacts: Sendable, Equatable {
    public var viewCounts: [IntentID: Int]
    /// Current members of the circles named by RECIPIENT_LEAVES_CIRCLE conditions; a missing
    /// circle has no members.
    public var circleMembers: [CircleID: Set<DID>]

    public init(viewCounts: [IntentID: Int] = [:], circleMembers: [CircleID: Set<DID>] = [:]) {
        self.viewCounts = viewCounts
        self.circleMembers = circleMembers
    }
}

/// The result of applying a transition to the stored intent.
public enum TransitionOutcome: Sendable, Equatable {
    /// Store this intent (compare-and-set on the old version).
    case applied(SharingIntent)
    /// The intent already is in the state this key leads to: a repeat after a restart.
    case alreadyApplied
    /// The intent changed in between (revoked, updated…); drop the transition.
    case superseded
}

/// The scheduler core (SPEC §5.2, issue 3 item 5), Sans-IO: given intents and a time it says
/// which transitions are due, in a deterministic order. It keeps no state of its own: what is
/// due follows from each intent's persisted `(status, version)` and dates, so a restart
/// neither loses a transition (it is still due) nor repeats one (`apply` answers
/// `alreadyApplied`). The shell runs `dueTransitions`, applies each with a compare-and-set on
/// the version, and sleeps until `nextWakeUp`, or until a view or membership change arrives.
public enum IntentScheduler {
    /// Due transitions at `now`, ordered by (dueAt, intent id, version), strictly after
    /// `cursor` when given, at most `limit`. An intent whose publish and expiry have both
    /// passed (say, after downtime) yields both, the expiry keyed to the version after publishing.
    public static func dueTransitions(in intents: some Sequence<SharingIntent>, facts: SchedulerFacts, now: Date,
                                      after cursor: SchedulerCursor? = nil, limit: Int = .max) -> [ScheduledTransition] {
        var due: [ScheduledTransition] = []
        for intent in intents {
            for transition in transitions(for: intent, facts: facts, now: now) where cursor.map({ transition.cursor > $0 }) ?? true {
                due.append(transition)
            }
        }
        due.sort { $0.cursor < $1.cursor }
        return limit < due.count ? Array(due.prefix(limit)) : due
    }

    /// The transitions due for one intent, in order.
    public static func transitions(for intent: SharingIntent, facts: SchedulerFacts, now: Date) -> [ScheduledTransition] {
        switch intent.status {
        case .validated:
            guard let publishAt = intent.spec.schedule?.publishAt, publishAt <= now else { return [] }
            let publish = ScheduledTransition(key: TransitionKey(intentID: intent.id, version: intent.version, target: .active),
                                              from: .validated, dueAt: publishAt, cause: .publishAt)
            var published = intent
            published.status = .active
            published.version += 1
            return [publish] + (expiry(of: published, facts: facts, now: now).map { [$0] } ?? [])
        case .active:
            return expiry(of: intent, facts: facts, now: now).map { [$0] } ?? []
        case .draft, .pending, .expired, .revoked, .cancelled, .archived:
            return []
        }
    }

    /// Why an ACTIVE intent ends at `now`, if it does: its expiry passed, its view budget is
    /// spent, or no recipient is left in the condition's circle (SPEC §5.2).
    static func expiry(of intent: SharingIntent, facts: SchedulerFacts, now: Date) -> ScheduledTransition? {
        func expire(_ dueAt: Date, _ cause: TransitionCause) -> ScheduledTransition {
            ScheduledTransition(key: TransitionKey(intentID: intent.id, version: intent.version, target: .expired),
                                from: .active, dueAt: dueAt, cause: cause)
        }
        if let end = intent.effectiveExpiry, end <= now { return expire(end, .expiresAt) }
        if let maxViews = intent.spec.maxViews, facts.viewCounts[intent.id, default: 0] >= maxViews { return expire(now, .viewBudget) }
        if case .condition(.recipientLeavesCircle(let circle)) = intent.spec.expiration {
            let members = facts.circleMembers[circle] ?? []
            if !intent.spec.audience.userDIDs.contains(where: members.contains) { return expire(now, .condition) }
        }
        return nil
    }

    /// The next instant after `now` at which a time-based transition falls due, if any.
    public static func nextWakeUp(for intents: some Sequence<SharingIntent>, after now: Date) -> Date? {
        var next: Date?
        func consider(_ date: Date?) {
            guard let date, date > now else { return }
            next = next.map { min($0, date) } ?? date
        }
        for intent in intents {
            switch intent.status {
            case .validated:
                consider(intent.spec.schedule?.publishAt)
                consider(intent.effectiveExpiry)
            case .active:
                consider(intent.effectiveExpiry)
            default:
                break
            }
        }
        return next
    }

    /// Applies `transition` to the stored `intent` at `now`. The lifecycle timestamp is the
    /// scheduled instant for time causes (a share published late after downtime still says it
    /// was due at publishAt), `updatedAt` is `now`.
    public static func apply(_ transition: ScheduledTransition, to intent: SharingIntent, at now: Date) -> TransitionOutcome {
        let key = transition.key
        guard intent.id == key.intentID else { return .superseded }
        if intent.version == key.version + 1 && intent.status == key.target { return .alreadyApplied }
        guard intent.version == key.version, intent.status == transition.from,
              var moved = try? intent.moved(to: key.target, at: now)
        else { return .superseded }
        switch transition.cause {
        case .publishAt: moved.publishedAt = transition.dueAt
        case .expiresAt: moved.expiresAt = transition.dueAt
        case .viewBudget, .condition: break
        }
        return .applied(moved)
    }
}

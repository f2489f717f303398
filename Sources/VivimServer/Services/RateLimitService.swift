import Foundation
import VivimCore

/// A refused request; the envelope middleware adds the `X-RateLimit-*` and `Retry-After` headers.
struct RateLimitExceeded: Error {
    var decision: RateLimitDecision
    var action: RateLimitedAction
}

/// The token buckets of SPEC §10.3 for this instance, per DID and per client address.
/// In memory: limits are per server instance (docs/decisions/0004); `TokenBucket` is plain data
/// so buckets can move into the master store when instances must share them.
actor RateLimitService {
    private var limiter: RateLimiter
    private var consumed = 0
    let clock: any WallClock

    init(limits: [RateLimitedAction: RateLimit] = [:], clock: any WallClock) {
        limiter = RateLimiter(limits: limits)
        self.clock = clock
    }

    func consume(_ action: RateLimitedAction, subjects: [RateLimitSubject]) -> RateLimitDecision {
        let now = clock.now
        consumed += 1
        if consumed % 10_000 == 0 { limiter.prune(at: now) }
        return limiter.consume(action, by: subjects, at: now)
    }

    /// Counts one request, throwing `RATE_LIMITED` when a bucket is empty.
    func require(_ action: RateLimitedAction, subjects: [RateLimitSubject]) throws -> RateLimitDecision {
        let decision = consume(action, subjects: subjects)
        guard decision.allowed else { throw RateLimitExceeded(decision: decision, action: action) }
        return decision
    }

    /// Whether another failure would still be allowed, without counting one.
    func peek(_ action: RateLimitedAction, subjects: [RateLimitSubject]) -> Bool {
        var copy = limiter
        return copy.consume(action, by: subjects, at: clock.now).allowed
    }
}

extension RateLimitExceeded {
    var vivimError: VivimError {
        VivimError(.rateLimited, "too many requests; try again later",
                   details: ["retryAfter": String(max(1, Int((decision.retryAfter ?? 1).rounded(.up)))), "action": action.rawValue])
    }
}

import Foundation

/// A budget of `capacity` requests per `period`, refilled continuously (token bucket).
public struct RateLimit: Sendable, Equatable, Codable {
    public var capacity: Int
    public var period: TimeInterval

    public init(capacity: Int, period: TimeInterval = 60) {
        precondition(capacity > 0 && period > 0, "a rate limit needs a positive capacity and period")
        self.capacity = capacity
        self.period = period
    }

    public static func perMinute(_ capacity: Int) -> RateLimit { RateLimit(capacity: capacity, period: 60) }

    /// Tokens per second.
    public var refillRate: Double { Double(capacity) / period }
}

/// The rate-limited actions of SPEC §10.3 with their limits.
public enum RateLimitedAction: String, WireEnum {
    case createIntent = "CREATE_INTENT", listIntents = "LIST_INTENTS", createLink = "CREATE_LINK"
    case content = "CONTENT", analytics = "ANALYTICS"
    /// Opening a share link, per client and per link (guessing codes, SPEC §6).
    case linkAccess = "LINK_ACCESS"
    /// Wrong link passwords, per client and per link (guessing passwords, SPEC §6).
    case linkPasswordFailure = "LINK_PASSWORD_FAILURE"

    public var defaultLimit: RateLimit {
        switch self {
        case .createIntent: .perMinute(10)
        case .listIntents: .perMinute(60)
        case .createLink: .perMinute(20)
        case .content: .perMinute(120)
        case .analytics: .perMinute(30)
        case .linkAccess: .perMinute(60)
        case .linkPasswordFailure: RateLimit(capacity: 5, period: 300)
        }
    }
}

/// The answer for one request (SPEC §10.3), ready for the `X-RateLimit-*` headers.
public struct RateLimitDecision: Sendable, Equatable {
    public var allowed: Bool
    public var limit: Int
    /// Whole requests left after this one.
    public var remaining: Int
    /// When the bucket is full again.
    public var resetAt: Date
    /// When refused: seconds until one request fits.
    public var retryAfter: TimeInterval?

    /// `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (Unix seconds, rounded up),
    /// and `Retry-After` (whole seconds) on a refusal.
    public var headers: [(name: String, value: String)] {
        var headers = [("X-RateLimit-Limit", String(limit)), ("X-RateLimit-Remaining", String(remaining)),
                       ("X-RateLimit-Reset", String(Int(resetAt.timeIntervalSince1970.rounded(.up))))]
        if let retryAfter { headers.append(("Retry-After", String(max(1, Int(retryAfter.rounded(.up)))))) }
        return headers
    }

    public func requireAllowed() throws(VivimError) {
        guard allowed else {
            throw VivimError(.rateLimited, "too many requests; try again later",
                             details: ["retryAfter": String(max(1, Int((retryAfter ?? 1).rounded(.up))))])
        }
    }
}

/// One token bucket's state: plain data, so it can also live in the master store when several
/// server instances share limits (ARCHITECTURE "Past one machine").
public struct TokenBucket: Sendable, Equatable, Codable {
    public var tokens: Double
    public var updatedAt: Date

    public static func full(_ limit: RateLimit, at now: Date) -> TokenBucket {
        TokenBucket(tokens: Double(limit.capacity), updatedAt: now)
    }

    public init(tokens: Double, updatedAt: Date) {
        self.tokens = tokens
        self.updatedAt = updatedAt
    }

    /// The bucket refilled up to `now`. A clock that steps back refills nothing.
    public func refilled(_ limit: RateLimit, at now: Date) -> TokenBucket {
        guard now > updatedAt else { return self }
        let tokens = min(Double(limit.capacity), self.tokens + now.timeIntervalSince(updatedAt) * limit.refillRate)
        return TokenBucket(tokens: tokens, updatedAt: now)
    }

    /// Takes one token if there is one; the decision describes the bucket afterwards.
    public mutating func take(_ limit: RateLimit, at now: Date) -> RateLimitDecision {
        self = refilled(limit, at: now)
        let allowed = tokens >= 1
        if allowed { tokens -= 1 }
        return decision(limit, allowed: allowed)
    }

    func decision(_ limit: RateLimit, allowed: Bool) -> RateLimitDecision {
        let missing = Double(limit.capacity) - tokens
        return RateLimitDecision(allowed: allowed, limit: limit.capacity, remaining: max(0, Int(tokens.rounded(.down))),
                                 resetAt: updatedAt.addingTimeInterval(missing / limit.refillRate),
                                 retryAfter: allowed ? nil : (1 - tokens) / limit.refillRate)
    }
}

/// Who a bucket belongs to: SPEC §10.3 limits per DID and per client address.
public enum RateLimitSubject: Hashable, Sendable {
    case did(DID)
    case client(String)
}

/// Token-bucket rate limiting over a caller-supplied time (SPEC §10.3). A value type: the
/// server keeps one behind an actor (or the buckets in the master store).
public struct RateLimiter: Sendable {
    public struct BucketKey: Hashable, Sendable {
        public var action: RateLimitedAction
        public var subject: RateLimitSubject
    }

    public private(set) var buckets: [BucketKey: TokenBucket] = [:]
    public var limits: [RateLimitedAction: RateLimit]

    public init(limits: [RateLimitedAction: RateLimit] = [:]) {
        var all = Dictionary(uniqueKeysWithValues: RateLimitedAction.allCases.map { ($0, $0.defaultLimit) })
        all.merge(limits) { _, override in override }
        self.limits = all
    }

    public func limit(for action: RateLimitedAction) -> RateLimit { limits[action] ?? action.defaultLimit }

    /// Counts one request against every subject's bucket (say, the DID and the client address).
    /// It is allowed only if every bucket has a token, and then takes one from each; a refused
    /// request takes nothing. The decision reports the tightest bucket. No subject, no pass.
    public mutating func consume(_ action: RateLimitedAction, by subjects: [RateLimitSubject], at now: Date) -> RateLimitDecision {
        let limit = limit(for: action)
        let keys = subjects.map { BucketKey(action: action, subject: $0) }
        var refilled = keys.map { (buckets[$0] ?? .full(limit, at: now)).refilled(limit, at: now) }
        let allowed = !refilled.isEmpty && refilled.allSatisfy { $0.tokens >= 1 }
        if allowed {
            for index in refilled.indices { refilled[index].tokens -= 1 }
        }
        for (key, bucket) in zip(keys, refilled) { buckets[key] = bucket }
        let decisions = refilled.map { $0.decision(limit, allowed: allowed) }
        guard var tightest = decisions.min(by: { $0.remaining < $1.remaining }) else {
            return TokenBucket.full(limit, at: now).decision(limit, allowed: false)
        }
        tightest.resetAt = decisions.map(\.resetAt).max() ?? tightest.resetAt
        tightest.retryAfter = allowed ? nil : decisions.compactMap(\.retryAfter).max()
        return tightest
    }

    public mutating func consume(_ action: RateLimitedAction, by subject: RateLimitSubject, at now: Date) -> RateLimitDecision {
        consume(action, by: [subject], at: now)
    }

    /// Forgets buckets that have refilled completely; they are indistinguishable from new ones.
    public mutating func prune(at now: Date) {
        buckets = buckets.filter { key, bucket in
            let limit = limit(for: key.action)
            return bucket.refilled(limit, at: now).tokens < Double(limit.capacity)
        }
    }
}

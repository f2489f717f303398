import Foundation
import Testing
import VivimCore

@Suite struct ShareLinkTests {
    let now = SharingFixtures.epoch
    /// 32 random bytes in base64url, as VivimCrypto's `SecureRandom.token()` makes them.
    let code = try! ShareLinkCode(parsing: "q3Z8-Jm_0pVxL2aY7tRkWc9HfN4uEbDsGiXo1MnQ5Ae")

    func link(maxUses: Int? = nil, uses: Int = 0, expiresIn: TimeInterval? = nil, isActive: Bool = true) -> ShareLink {
        ShareLink(code: code, intentID: SharingFixtures.id(1), creatorDid: SharingFixtures.did(1), maxUses: maxUses, usesCount: uses,
                  expiresAt: expiresIn.map(now.addingTimeInterval), isActive: isActive, createdAt: now)
    }

    @Test func codesCarryAtLeast128BitsOfURLSafeCharacters() throws {
        #expect(code.bits == 258)
        #expect(try ShareLinkCode(parsing: String(repeating: "A", count: 22)).bits >= 128)
        #expect(throws: VivimError.self) { try ShareLinkCode(parsing: String(repeating: "A", count: 21)) }
        #expect(throws: VivimError.self) { try ShareLinkCode(parsing: String(repeating: "A", count: 129)) }
        for bad in ["q3Z8+Jm/0pVxL2aY7tRkWc9H", "q3Z8-Jm_0pVxL2aY7tRkWc9H=", "q3Z8 Jm_0pVxL2aY7tRkWc9H", "q3Z8-Jm_0pVxL2aY7tRkWc9ü", "../../../../etc/passwd/xx"] {
            #expect(throws: VivimError.self, "\(bad)") { try ShareLinkCode(parsing: bad) }
        }
    }

    @Test func codesDecodeOnlyWhenWellFormed() throws {
        #expect(try JSONDecoder().decode(ShareLinkCode.self, from: Data(#""\#(code)""#.utf8)) == code)
        #expect(throws: (any Error).self) { try JSONDecoder().decode(ShareLinkCode.self, from: Data(#""short""#.utf8)) }
    }

    @Test func aFreshLinkIsActive() {
        #expect(link(maxUses: 1, expiresIn: 60).state(at: now, intentStatus: .active) == .active)
    }

    @Test func aLinkExpiresAtItsExpiryInstant() {
        #expect(link(expiresIn: 60).state(at: now.addingTimeInterval(59), intentStatus: .active) == .active)
        #expect(link(expiresIn: 60).state(at: now.addingTimeInterval(60), intentStatus: .active) == .expired)
    }

    @Test func aLinkIsExhaustedAtMaxUses() {
        #expect(link(maxUses: 2, uses: 1).state(at: now, intentStatus: .active) == .active)
        #expect(link(maxUses: 2, uses: 2).state(at: now, intentStatus: .active) == .exhausted)
    }

    @Test(arguments: IntentStatus.allCases.filter { $0 != .active })
    func aLinkDiesWithItsIntent(_ status: IntentStatus) {
        #expect(link().state(at: now, intentStatus: status) == .disabled)
    }

    @Test func disablingWinsOverEveryOtherState() {
        #expect(link(maxUses: 1, uses: 5, expiresIn: -10, isActive: false).state(at: now, intentStatus: .active) == .disabled)
        #expect(link(maxUses: 1, uses: 5, expiresIn: -10).state(at: now, intentStatus: .active) == .expired)
    }

    @Test func refusalsHideDisabledLinksAndExplainTheRest() {
        #expect(throws: VivimError.notFound("share link not found")) { try ShareLinkState.disabled.requireActive() }
        #expect(throws: VivimError(.forbidden, "this share link has expired", details: ["reason": "EXPIRED"])) { try ShareLinkState.expired.requireActive() }
        #expect(throws: VivimError(.forbidden, "this share link has been used up", details: ["reason": "EXHAUSTED"])) { try ShareLinkState.exhausted.requireActive() }
    }

    @Test func aSingleUseLinkWorksExactlyOnce() throws {
        let used = try link(maxUses: 1).recordingUse(at: now, intentStatus: .active)
        #expect(used.usesCount == 1)
        #expect(throws: VivimError.self) { try used.recordingUse(at: now, intentStatus: .active) }
    }

    @Test func linkRequestsAreParsedAtTheEdge() throws {
        let intent: IntentID = SharingFixtures.id(3)
        let parsed = try ShareLinkDraft(intentId: intent.rawValue, maxUses: 5, expiresAt: "2027-01-15T12:00:00Z", password: "correct horse").parse(now: now)
        #expect(parsed.intentID == intent && parsed.maxUses == 5 && parsed.password == "correct horse")
        #expect(parsed.expiresAt == Date(timeIntervalSince1970: 1_800_014_400))
        #expect(throws: VivimError.validation("intentId is required", field: "intentId")) { try ShareLinkDraft().parse(now: now) }
        #expect(throws: VivimError.self) { try ShareLinkDraft(intentId: intent.rawValue, maxUses: 0).parse(now: now) }
        #expect(throws: VivimError.self) { try ShareLinkDraft(intentId: intent.rawValue, expiresAt: "2020-01-01T00:00:00Z").parse(now: now) }
        #expect(throws: VivimError.self) { try ShareLinkDraft(intentId: intent.rawValue, password: "short").parse(now: now) }
    }
}

@Suite struct RateLimiterTests {
    let alice = RateLimitSubject.did(SharingFixtures.did(2))
    let address = RateLimitSubject.client("203.0.113.7")

    @Test func theSpecLimitsAreTheDefaults() {
        let limiter = RateLimiter()
        let spec: [RateLimitedAction] = [.createIntent, .listIntents, .createLink, .content, .analytics]
        #expect(spec.map { limiter.limit(for: $0).capacity } == [10, 60, 20, 120, 30])
        #expect(spec.allSatisfy { limiter.limit(for: $0).period == 60 })
        // Guessing limits of share links (SPEC §6, docs/decisions/0004).
        #expect(limiter.limit(for: .linkAccess) == .perMinute(60))
        #expect(limiter.limit(for: .linkPasswordFailure) == RateLimit(capacity: 5, period: 300))
    }

    @Test func aFullBucketAllowsItsCapacityThenRefuses() {
        let clock = ManualClock()
        var limiter = RateLimiter()
        let decisions = (0..<11).map { _ in limiter.consume(.createIntent, by: alice, at: clock.now) }
        #expect(decisions.prefix(10).allSatisfy { $0.allowed })
        #expect(decisions.prefix(10).map(\.remaining) == Array((0..<10).reversed()))
        let refused = decisions[10]
        #expect(!refused.allowed && refused.remaining == 0 && refused.limit == 10)
        #expect(refused.retryAfter == 6)
        #expect(refused.resetAt == clock.now.addingTimeInterval(60))
        #expect(throws: VivimError(.rateLimited, "too many requests; try again later", details: ["retryAfter": "6"])) { try refused.requireAllowed() }
    }

    @Test func tokensComeBackWithTime() {
        let clock = ManualClock()
        var limiter = RateLimiter()
        for _ in 0..<10 { _ = limiter.consume(.createIntent, by: alice, at: clock.now) }
        clock.advance(by: 5.9)
        #expect(!limiter.consume(.createIntent, by: alice, at: clock.now).allowed)
        clock.advance(by: 0.1)
        #expect(limiter.consume(.createIntent, by: alice, at: clock.now).allowed)
        #expect(!limiter.consume(.createIntent, by: alice, at: clock.now).allowed)
        clock.advance(by: 3600)
        #expect(limiter.consume(.createIntent, by: alice, at: clock.now).remaining == 9)
    }

    @Test func actionsAndSubjectsHaveSeparateBuckets() {
        let now = ManualClock().now
        var limiter = RateLimiter()
        for _ in 0..<10 { _ = limiter.consume(.createIntent, by: alice, at: now) }
        #expect(limiter.consume(.listIntents, by: alice, at: now).allowed)
        #expect(limiter.consume(.createIntent, by: .did(SharingFixtures.did(3)), at: now).allowed)
    }

    @Test func aRequestNeedsATokenFromEverySubjectAndARefusalTakesNone() {
        let now = ManualClock().now
        var limiter = RateLimiter(limits: [.createLink: RateLimit(capacity: 2)])
        let bob = RateLimitSubject.did(SharingFixtures.did(3))
        #expect(limiter.consume(.createLink, by: [alice, address], at: now).remaining == 1)
        #expect(limiter.consume(.createLink, by: [bob, address], at: now).allowed)
        // The shared address is spent, so Alice is refused, and her own bucket keeps its token.
        let refused = limiter.consume(.createLink, by: [alice, address], at: now)
        #expect(!refused.allowed && refused.remaining == 0)
        #expect(limiter.consume(.createLink, by: alice, at: now).remaining == 0)
    }

    @Test func aClockSteppingBackRefillsNothing() {
        let clock = ManualClock()
        var limiter = RateLimiter(limits: [.analytics: RateLimit(capacity: 1)])
        #expect(limiter.consume(.analytics, by: alice, at: clock.now).allowed)
        clock.advance(by: -3600)
        #expect(!limiter.consume(.analytics, by: alice, at: clock.now).allowed)
    }

    @Test func headersFollowTheSpecNames() {
        var limiter = RateLimiter()
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let decision = limiter.consume(.content, by: alice, at: now)
        #expect(decision.headers.map(\.name) == ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"])
        #expect(decision.headers.map(\.value) == ["120", "119", "1800000001"])
    }

    @Test func fullBucketsArePruned() {
        let clock = ManualClock()
        var limiter = RateLimiter()
        _ = limiter.consume(.content, by: alice, at: clock.now)
        _ = limiter.consume(.analytics, by: address, at: clock.now)
        #expect(limiter.buckets.count == 2)
        clock.advance(by: 1)
        limiter.prune(at: clock.now)
        #expect(limiter.buckets.count == 1)
        clock.advance(by: 1)
        limiter.prune(at: clock.now)
        #expect(limiter.buckets.isEmpty)
    }
}

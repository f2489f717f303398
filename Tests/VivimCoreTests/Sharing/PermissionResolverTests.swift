import Foundation
import Testing
import VivimCore

@Suite struct PermissionResolverTests {
    let owner = SharingFixtures.did(1), alice = SharingFixtures.did(2), bob = SharingFixtures.did(3)
    let content: ContentID = SharingFixtures.id(1), other: ContentID = SharingFixtures.id(2)
    let friends: CircleID = SharingFixtures.id(10), work: CircleID = SharingFixtures.id(11)
    let now = SharingFixtures.epoch

    func effective(_ intents: [SharingIntent], _ facts: ResolutionFacts) -> EffectivePermissions {
        PermissionResolver.effective(contentID: content, contentOwner: owner, intents: intents, facts: facts)
    }

    @Test func theOwnerHasEverythingWithoutAnyIntent() {
        let result = effective([], ResolutionFacts(did: owner, now: now))
        #expect(result.isOwner && result.permissions == .all)
        #expect(result.check(.download) == PermissionCheck(allowed: true, permission: .download, expiresAt: nil, reason: nil))
    }

    @Test func anOutsiderHasNothing() {
        let share = SharingFixtures.intent(owner: owner, content: [content], audience: .users([alice]))
        #expect(effective([share], ResolutionFacts(did: bob, now: now)).check(.view).reason == .noAccess)
        #expect(effective([share], ResolutionFacts(did: nil, now: now)).permissions == .none)
    }

    @Test func publicSharesReachAnonymousVisitors() {
        let share = SharingFixtures.intent(owner: owner, content: [content], audience: .public)
        #expect(effective([share], ResolutionFacts(did: nil, now: now)).permissions == .viewOnly)
    }

    @Test func leavingACircleEndsAccessOnTheNextRequest() {
        let share = SharingFixtures.intent(owner: owner, content: [content], audience: .circles([friends, work]))
        #expect(effective([share], ResolutionFacts(did: alice, circleMemberships: [work], now: now)).permissions.view)
        #expect(!effective([share], ResolutionFacts(did: alice, circleMemberships: [], now: now)).permissions.view)
    }

    @Test func intentsForOtherContentDoNotCount() {
        let share = SharingFixtures.intent(owner: owner, content: [other], audience: .public)
        #expect(effective([share], ResolutionFacts(did: alice, now: now)).permissions == .none)
    }

    @Test func permissionsAreTheUnionOfMatchingIntents() {
        let copy = SharingFixtures.intent(owner: owner, content: [content], audience: .users([alice]), permissions: Permissions(copy: true))
        let remix = SharingFixtures.intent(owner: owner, content: [content, other], audience: .circles([friends]), permissions: Permissions(remix: true))
        let result = effective([copy, remix], ResolutionFacts(did: alice, circleMemberships: [friends], now: now))
        #expect(result.permissions == Permissions(view: true, copy: true, remix: true))
        #expect(result.grants.map(\.intentID) == [copy.id, remix.id])
        #expect(result.check(.share).reason == .notGranted)
    }

    @Test func onlyActiveIntentsInsideTheirWindowAndBudgetGrant() {
        let schedule = Schedule(publishAt: now.addingTimeInterval(-60), expiresAt: now.addingTimeInterval(60))
        let live = SharingFixtures.intent(owner: owner, content: [content], audience: .users([alice]), schedule: schedule)
        let facts = ResolutionFacts(did: alice, now: now)
        #expect(effective([live], facts).permissions.view)
        for status in IntentStatus.allCases where status != .active {
            var intent = live
            intent.status = status
            #expect(!effective([intent], facts).permissions.view, "status \(status)")
        }
        var atExpiry = facts
        atExpiry.now = now.addingTimeInterval(60)
        #expect(!effective([live], atExpiry).permissions.view)
        var early = facts
        early.now = now.addingTimeInterval(-61)
        #expect(!effective([live], early).permissions.view)

        let budget = SharingFixtures.intent(owner: owner, content: [content], audience: .users([alice]), expiration: .access(maxViews: 2))
        #expect(effective([budget], ResolutionFacts(did: alice, viewCounts: [budget.id: 1], now: now)).permissions.view)
        #expect(!effective([budget], ResolutionFacts(did: alice, viewCounts: [budget.id: 2], now: now)).permissions.view)
    }

    @Test func acceptanceIsRequiredOnlyWhenThePolicySaysSo() {
        let open = SharingFixtures.intent(owner: owner, content: [content], audience: .users([alice]))
        let gated = SharingFixtures.intent(owner: owner, content: [content], audience: .users([alice]), policy: IntentPolicy(requireAcceptance: true))
        #expect(effective([open], ResolutionFacts(did: alice, now: now)).permissions.view)
        #expect(!effective([gated], ResolutionFacts(did: alice, now: now)).permissions.view)
        #expect(effective([gated], ResolutionFacts(did: alice, responses: [gated.id: .accepted], now: now)).permissions.view)
        #expect(!effective([open], ResolutionFacts(did: alice, responses: [open.id: .declined], now: now)).permissions.view)
        #expect(!effective([open], ResolutionFacts(did: alice, responses: [open.id: .removed], now: now)).permissions.view)
    }

    @Test func linkHoldersGetTheirIntentAndNothingElse() {
        let link = SharingFixtures.intent(owner: owner, content: [content], audience: .link(nil), permissions: Permissions(copy: true))
        #expect(effective([link], ResolutionFacts(did: nil, now: now)).permissions == .none)
        #expect(effective([link], ResolutionFacts(did: nil, linkGrants: [link.id], now: now)).permissions == Permissions(copy: true))
    }

    @Test func aConditionalShareEndsForARecipientWhoLeavesTheCircle() {
        let share = SharingFixtures.intent(owner: owner, content: [content], audience: .users([alice, bob]),
                                           expiration: .condition(.recipientLeavesCircle(friends)))
        #expect(effective([share], ResolutionFacts(did: alice, circleMemberships: [friends], now: now)).permissions.view)
        #expect(!effective([share], ResolutionFacts(did: bob, circleMemberships: [work], now: now)).permissions.view)
    }

    @Test func moderationRestrictsOrBlocks() {
        let share = SharingFixtures.intent(owner: owner, content: [content], audience: .public, permissions: .all)
        #expect(effective([share], ResolutionFacts(did: alice, contentModeration: .flagged, now: now)).permissions == .all)
        #expect(effective([share], ResolutionFacts(did: alice, contentModeration: .restricted, now: now)).permissions == .viewOnly)
        let blocked = effective([share], ResolutionFacts(did: alice, contentModeration: .blocked, now: now))
        #expect(blocked.permissions == .none)
        #expect(blocked.check(.view).reason == .moderated)
        var flagged = share
        flagged.spec.policy.moderationFlag = .restricted
        #expect(effective([flagged], ResolutionFacts(did: alice, now: now)).check(.copy).reason == .moderated)
        // The owner is never moderated out of their own content.
        #expect(effective([share], ResolutionFacts(did: owner, contentModeration: .blocked, now: now)).permissions == .all)
    }

    @Test func checkReportsWhenTheLastGrantEnds() {
        let short = SharingFixtures.intent(owner: owner, content: [content], audience: .users([alice]), permissions: Permissions(copy: true),
                                           schedule: Schedule(expiresAt: now.addingTimeInterval(60)))
        let long = SharingFixtures.intent(owner: owner, content: [content], audience: .public,
                                          schedule: Schedule(expiresAt: now.addingTimeInterval(600)))
        let result = effective([short, long], ResolutionFacts(did: alice, now: now))
        #expect(result.check(.view).expiresAt == now.addingTimeInterval(600))
        #expect(result.check(.copy).expiresAt == now.addingTimeInterval(60))
        let endless = SharingFixtures.intent(owner: owner, content: [content], audience: .users([alice]))
        #expect(effective([short, endless], ResolutionFacts(did: alice, now: now)).check(.view).expiresAt == nil)
    }

    @Test func privacyLevelFollowsActiveIntents() {
        let circleShare = SharingFixtures.intent(owner: owner, content: [content], audience: .circles([friends]))
        var publicDraft = SharingFixtures.intent(owner: owner, content: [content], audience: .public)
        publicDraft.status = .validated
        #expect(PrivacyLevel.of(content, intents: [], locked: false) == .local)
        #expect(PrivacyLevel.of(content, intents: [circleShare, publicDraft], locked: false) == .shared)
        publicDraft.status = .active
        #expect(PrivacyLevel.of(content, intents: [circleShare, publicDraft], locked: false) == .public)
        #expect(PrivacyLevel.of(content, intents: [circleShare, publicDraft], locked: true) == .local)
    }
}

/// Issue 3 acceptance: for random intents, circles and memberships, the resolver answers
/// exactly what a brute-force reading of SPEC §5.4 answers.
@Suite struct PermissionResolverPropertyTests {
    static let owners = (1...2).map { SharingFixtures.did($0) }
    static let people = (3...7).map { SharingFixtures.did($0) }
    static let circles: [CircleID] = (20...23).map { SharingFixtures.id($0) }
    static let contents: [ContentID] = (30...32).map { SharingFixtures.id($0) }
    static let now = SharingFixtures.epoch

    struct Case {
        var intents: [SharingIntent]
        var contentOwner: DID
        var content: ContentID
        var facts: ResolutionFacts
    }

    static func pick<T>(_ items: [T], _ rng: inout SplitMix64) -> T { items[Int.random(in: 0..<items.count, using: &rng)] }
    static func subset<T>(_ items: [T], _ p: Double, _ rng: inout SplitMix64) -> [T] { items.filter { _ in rng.chance(p) } }
    static func offset(_ rng: inout SplitMix64) -> Date? { rng.chance(0.5) ? nil : now.addingTimeInterval(Double(Int.random(in: -3...3, using: &rng)) * 60) }

    static func randomCase(_ rng: inout SplitMix64, index: Int) -> Case {
        let askers: [DID?] = people + owners + [nil]
        let asker = pick(askers, &rng)
        var intents: [SharingIntent] = []
        for n in 0..<Int.random(in: 0...8, using: &rng) {
            let audience: Audience = switch Int.random(in: 0..<4, using: &rng) {
            case 0: .public
            case 1: .circles(subset(circles, 0.4, &rng))
            case 2: .users(subset(people, 0.4, &rng))
            default: .link(nil)
            }
            var permissions = Permissions.none
            for permission in Permission.allCases { permissions[permission] = rng.chance(permission == .view ? 0.85 : 0.4) }
            let expiration: Expiration? = switch Int.random(in: 0..<4, using: &rng) {
            case 0: .access(maxViews: Int.random(in: 1...3, using: &rng))
            case 1: .condition(.recipientLeavesCircle(pick(circles, &rng)))
            default: nil
            }
            let policy = IntentPolicy(requireAcceptance: rng.chance(0.3), moderationFlag: rng.chance(0.8) ? .none : pick(ModerationFlag.allCases, &rng))
            var intent = SharingFixtures.intent(
                id: SharingFixtures.id(UInt64(index * 100 + n)), owner: pick(owners, &rng), content: subset(contents, 0.6, &rng),
                audience: audience, permissions: permissions, status: rng.chance(0.6) ? .active : pick(IntentStatus.allCases, &rng),
                schedule: rng.chance(0.3) ? nil : Schedule(publishAt: offset(&rng), expiresAt: offset(&rng)),
                expiration: expiration, policy: policy)
            if rng.chance(0.15) { intent.expiresAt = offset(&rng) }
            intents.append(intent)
        }
        let ids = intents.map(\.id)
        var viewCounts: [IntentID: Int] = [:], responses: [IntentID: RecipientResponse] = [:]
        for id in ids {
            if rng.chance(0.5) { viewCounts[id] = Int.random(in: 0...4, using: &rng) }
            if rng.chance(0.5) { responses[id] = pick(RecipientResponse.allCases, &rng) }
        }
        let facts = ResolutionFacts(
            did: asker, circleMemberships: asker == nil ? [] : Set(subset(circles, 0.5, &rng)), linkGrants: Set(subset(ids, 0.2, &rng)),
            viewCounts: viewCounts, responses: responses, contentModeration: rng.chance(0.85) ? .none : pick(ModerationFlag.allCases, &rng),
            now: now)
        return Case(intents: intents, contentOwner: pick(owners, &rng), content: pick(contents, &rng), facts: facts)
    }

    /// SPEC §5.4 read literally, one permission at a time.
    static func reference(_ c: Case, _ permission: Permission) -> (allowed: Bool, expiresAt: Date?) {
        let f = c.facts
        if f.did == c.contentOwner { return (true, nil) }
        var ends: [Date?] = []
        for intent in c.intents {
            guard intent.content.ids.contains(c.content), intent.status == .active else { continue }
            let end = intent.expiresAt ?? intent.schedule?.expiresAt
            if let start = intent.schedule?.publishAt, f.now < start { continue }
            if let end, f.now >= end { continue }
            if case .access(let maxViews) = intent.expiration, (f.viewCounts[intent.id] ?? 0) >= maxViews { continue }

            let response = f.responses[intent.id] ?? .pending
            let answered = response != .declined && response != .removed && (!intent.policy.requireAcceptance || response == .accepted)
            var inAudience = f.linkGrants.contains(intent.id)
            switch intent.audience {
            case .public:
                inAudience = true
            case .users(let dids):
                var stillInCircle = true
                if case .condition(.recipientLeavesCircle(let circle)) = intent.expiration { stillInCircle = f.circleMemberships.contains(circle) }
                if let did = f.did, dids.contains(did), stillInCircle, answered { inAudience = true }
            case .circles(let ids):
                if f.did != nil, !Set(ids).isDisjoint(with: f.circleMemberships), answered { inAudience = true }
            case .link:
                break
            }
            guard inAudience else { continue }

            let requested = intent.permissions[permission]
            let granted = switch max(intent.policy.moderationFlag, f.contentModeration) {
            case .none, .flagged: requested
            case .restricted: permission == .view && requested
            case .blocked: false
            }
            if granted { ends.append(end) }
        }
        if ends.isEmpty { return (false, nil) }
        return (true, ends.contains { $0 == nil } ? nil : ends.compactMap { $0 }.max())
    }

    @Test func resolverEqualsBruteForceReference() {
        var rng = SplitMix64(seed: 0x5EED_0003)
        var granted = 0, refused = 0
        for index in 0..<2_000 {
            let c = Self.randomCase(&rng, index: index)
            let result = PermissionResolver.effective(contentID: c.content, contentOwner: c.contentOwner, intents: c.intents, facts: c.facts)
            for permission in Permission.allCases {
                let expected = Self.reference(c, permission)
                let check = result.check(permission)
                #expect(check.allowed == expected.allowed, "case \(index) \(permission)")
                #expect(result.permissions[permission] == expected.allowed, "case \(index) \(permission)")
                #expect(check.expiresAt == expected.expiresAt, "case \(index) \(permission)")
                #expect((check.reason == nil) == expected.allowed, "case \(index) \(permission)")
                if expected.allowed { granted += 1 } else { refused += 1 }
            }
        }
        // The generator must exercise both answers, or the comparison proves little.
        #expect(granted > 1_000 && refused > 1_000)
    }
}

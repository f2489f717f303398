import Foundation
import Testing
import VivimCore

@Suite struct IntentValidatorTests {
    let owner = SharingFixtures.did(1), alice = SharingFixtures.did(2), bob = SharingFixtures.did(3), stranger = SharingFixtures.did(4)
    let mine: ContentID = SharingFixtures.id(1), theirs: ContentID = SharingFixtures.id(2)
    let friends: CircleID = SharingFixtures.id(10), club: CircleID = SharingFixtures.id(11), secret: CircleID = SharingFixtures.id(12)
    let now = SharingFixtures.epoch

    var facts: ValidationFacts {
        let friendsFacts = CircleFacts(circle: SharingFixtures.circle(friends, owner: owner),
                                       actorMembership: SharingFixtures.membership(owner, in: friends, role: .owner), memberDids: [owner, alice])
        let clubFacts = CircleFacts(circle: SharingFixtures.circle(club, owner: bob),
                                    actorMembership: SharingFixtures.membership(owner, in: club, canShare: false), memberDids: [bob, owner])
        let secretFacts = CircleFacts(circle: SharingFixtures.circle(secret, owner: bob), actorMembership: nil)
        return ValidationFacts(ownedContent: [mine], circles: [friends: friendsFacts, club: clubFacts, secret: secretFacts],
                               registeredDids: [owner, alice, bob], now: now)
    }

    func draft(audience: SharingIntentDraft.AudienceDraft = .init(type: "USERS", userDids: [SharingFixtures.did(2).description]),
               ids: [ContentID]? = nil) -> SharingIntentDraft {
        SharingIntentDraft(content: .init(type: "CONVERSATION", ids: (ids ?? [mine]).map(\.rawValue)), audience: audience)
    }

    func errorFields(_ report: ValidationReport) -> [String] { report.errors.map(\.field) }

    @Test func aGoodDraftIsValidAndCarriesTheParsedIntent() throws {
        let report = IntentValidator.validate(draft(), actor: owner, facts: facts)
        #expect(report.valid)
        #expect(try report.requireValid().spec.audience == .users([alice]))
    }

    @Test func parseErrorsComeBackAsAReportNotAThrow() {
        let report = IntentValidator.validate(SharingIntentDraft(), actor: owner, facts: facts)
        #expect(!report.valid)
        #expect(Set(errorFields(report)) == ["content", "audience"])
        #expect(throws: VivimError.validation("content is required", field: "content")) { try report.requireValid() }
    }

    @Test func theActorMustOwnEveryContentID() {
        let report = IntentValidator.validate(draft(ids: [mine, theirs]), actor: owner, facts: facts)
        #expect(report.errors == [ValidationIssue(field: "content.ids[1]", code: .notOwned, message: "you do not own this content")])
    }

    @Test func circlesMustExistBeVisibleAndAllowTheActorToShare() {
        let ids = [friends, club, secret, SharingFixtures.id(99)].map(\.rawValue)
        let report = IntentValidator.validate(draft(audience: .init(type: "CIRCLE", circleIds: ids)), actor: owner, facts: facts)
        #expect(report.errors.map { "\($0.field) \($0.code.rawValue)" } == [
            "audience.circleIds[1] NOT_ALLOWED", "audience.circleIds[2] NOT_FOUND", "audience.circleIds[3] NOT_FOUND",
        ])
    }

    @Test func recipientsMustBeRegisteredAndTheOwnerIsOnlyAWarning() {
        let dids = [alice, stranger, owner].map(\.description)
        let report = IntentValidator.validate(draft(audience: .init(type: "USERS", userDids: dids)), actor: owner, facts: facts)
        #expect(errorFields(report) == ["audience.userDids[1]"])
        #expect(report.errors.first?.code == .notRegistered)
        #expect(report.warnings.contains { $0.field == "audience.userDids[2]" })
    }

    @Test func permissionsWithoutViewAreIncoherent() {
        var d = draft()
        d.permissions = .init(view: false, copy: true)
        let report = IntentValidator.validate(d, actor: owner, facts: facts)
        #expect(report.errors == [ValidationIssue(field: "permissions.view", code: .incoherentPermissions, message: "every permission needs view")])
    }

    @Test func intentTypesConstrainPermissionsAndAudience() {
        var fork = draft()
        fork.intentType = "fork"
        #expect(errorFields(IntentValidator.validate(fork, actor: owner, facts: facts)) == ["permissions.remix"])
        var embed = draft()
        embed.intentType = "EMBED"
        #expect(errorFields(IntentValidator.validate(embed, actor: owner, facts: facts)) == ["intentType"])
        embed.audience = .init(type: "LINK")
        #expect(IntentValidator.validate(embed, actor: owner, facts: facts).valid)
    }

    @Test func scheduleMustEndInTheFutureAndAPastStartOnlyWarns() {
        var d = draft()
        d.schedule = .init(publishAt: RFC3339.format(now.addingTimeInterval(-60)), expiresAt: RFC3339.format(now.addingTimeInterval(-30)))
        let report = IntentValidator.validate(d, actor: owner, facts: facts)
        #expect(report.errors.map(\.code) == [.invalidSchedule])
        #expect(report.warnings.map(\.field).contains("schedule.publishAt"))
        d.schedule?.expiresAt = RFC3339.format(now.addingTimeInterval(3600))
        #expect(IntentValidator.validate(d, actor: owner, facts: facts).valid)
    }

    @Test func aLeaveCircleConditionNeedsDirectRecipientsWhoAreMembers() {
        var d = draft(audience: .init(type: "USERS", userDids: [alice, bob].map(\.description)))
        d.expiration = .init(type: "condition", condition: .init(type: "RECIPIENT_LEAVES_CIRCLE", circleId: friends.rawValue))
        #expect(IntentValidator.validate(d, actor: owner, facts: facts).errors.map(\.field) == ["audience.userDids[1]"])
        d.audience = .init(type: "CIRCLE", circleIds: [friends.rawValue])
        #expect(errorFields(IntentValidator.validate(d, actor: owner, facts: facts)) == ["expiration.condition"])
    }

    @Test func coOwnersMustBeRegisteredAndNotTheOwner() {
        var d = draft()
        d.coOwners = [bob, owner, stranger].map(\.description)
        #expect(errorFields(IntentValidator.validate(d, actor: owner, facts: facts)) == ["coOwners[1]", "coOwners[2]"])
    }

    @Test func aReshareNeedsSharePermissionAndCannotWiden() {
        var d = draft(ids: [theirs])
        d.ownerDid = bob.description
        var held = facts
        held.actorPermissions = [theirs: Permissions(view: true)]
        #expect(errorFields(IntentValidator.validate(d, actor: owner, facts: held)) == ["content.ids[0]"])
        held.actorPermissions = [theirs: Permissions(view: true, share: true)]
        #expect(IntentValidator.validate(d, actor: owner, facts: held).valid)
        d.permissions = .init(download: true)
        #expect(errorFields(IntentValidator.validate(d, actor: owner, facts: held)) == ["permissions"])
    }

    @Test func openSharesGetWarningsAndSuggestions() {
        var d = draft(audience: .init(type: "PUBLIC"))
        d.permissions = .init(download: true)
        let report = IntentValidator.validate(d, actor: owner, facts: facts)
        #expect(report.valid)
        #expect(report.warnings.map(\.code) == [.risky])
        #expect(Set(report.suggestions.map(\.field)) == ["schedule.expiresAt", "transformations.redactPersonalInfo", "metadata.title"])
    }

    @Test func theReportEncodesTheSpecShape() throws {
        let report = IntentValidator.validate(draft(ids: [theirs]), actor: owner, facts: facts)
        let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as? [String: Any])
        #expect(Set(object.keys) == ["valid", "errors", "warnings", "suggestions"])
        #expect(object["valid"] as? Bool == false)
        let first = try #require((object["errors"] as? [[String: Any]])?.first)
        #expect(first["severity"] as? String == "ERROR" && first["code"] as? String == "NOT_OWNED")
    }
}

@Suite struct PolicyEngineTests {
    let owner = SharingFixtures.did(1), alice = SharingFixtures.did(2), bob = SharingFixtures.did(3)
    let content: ContentID = SharingFixtures.id(1)
    let circle: CircleID = SharingFixtures.id(10)

    func parsed(_ audience: Audience, permissions: Permissions = .viewOnly, actor: DID? = nil, schedule: Schedule? = nil) -> ParsedIntentDraft {
        ParsedIntentDraft(ownerDid: actor ?? owner, actorDid: actor ?? owner,
                          spec: IntentSpec(content: IntentContent(type: .conversation, ids: [content]), audience: audience,
                                           permissions: permissions, schedule: schedule))
    }

    func circleContext(role: CircleRole, settings: CircleSharingSettings = CircleSharingSettings(), defaults: Permissions = .viewOnly) -> PolicyContext {
        let facts = CircleFacts(circle: SharingFixtures.circle(circle, owner: bob, defaults: defaults),
                                actorMembership: SharingFixtures.membership(owner, in: circle, role: role), settings: settings)
        return PolicyContext(circles: [circle: facts])
    }

    @Test func anOrdinaryShareIsAllowedAndEveryRuleReportsIn() throws {
        let decision = PolicyEngine.evaluate(parsed(.users([alice])), context: PolicyContext())
        #expect(decision.allowed)
        #expect(decision.flags.isEmpty && decision.requiredModifications.isEmpty)
        #expect(Set(decision.policyResults.map { "\($0.policy.rawValue).\($0.rule)" }) == [
            "USER.lockedContent", "USER.publicSharing", "USER.openSharesExpire", "USER.recipientConsent",
            "SYSTEM.blockedUsers", "SYSTEM.publicSharing", "SYSTEM.moderation",
        ])
        try decision.enforce()
    }

    @Test func sharingLockedContentIsAPolicyViolation() {
        let decision = PolicyEngine.evaluate(parsed(.public), context: PolicyContext(user: UserSharingPolicy(lockedContent: [content])))
        #expect(!decision.allowed)
        #expect(decision.requiredModifications.map(\.field) == ["content.ids[0]"])
        #expect(throws: VivimError(.policyViolation, "sharing refused by policy: the content is locked as LOCAL", field: "content.ids[0]",
                                   details: ["content.ids[0]": "the content is locked as LOCAL"])) {
            try decision.enforce()
        }
    }

    @Test func userSettingsCanForbidOrBoundOpenShares() {
        let closed = PolicyContext(user: UserSharingPolicy(allowPublicSharing: false))
        #expect(!PolicyEngine.evaluate(parsed(.link(nil)), context: closed).allowed)
        #expect(PolicyEngine.evaluate(parsed(.circles([circle])), context: PolicyContext(user: closed.user, circles: circleContext(role: .owner).circles)).allowed)
        let bounded = PolicyContext(user: UserSharingPolicy(requireExpiryForOpenShares: true))
        #expect(!PolicyEngine.evaluate(parsed(.public), context: bounded).allowed)
        #expect(PolicyEngine.evaluate(parsed(.public, schedule: Schedule(expiresAt: SharingFixtures.epoch)), context: bounded).allowed)
    }

    @Test func recipientsWhoRefuseTheSenderAreNamed() {
        let context = PolicyContext(recipients: [alice: RecipientPolicy(blockUnknownUsers: true), bob: RecipientPolicy(blockUnknownUsers: true, knowsSender: true)])
        let decision = PolicyEngine.evaluate(parsed(.users([bob, alice])), context: context)
        #expect(decision.denials.map(\.field) == ["audience.userDids[1]"])
        #expect(decision.requiredModifications.map(\.action) == ["remove this recipient"])
    }

    @Test func plainMembersAreCappedAtTheCircleDefaults() {
        let wide = Permissions(view: true, copy: true, download: true)
        let asMember = PolicyEngine.evaluate(parsed(.circles([circle]), permissions: wide), context: circleContext(role: .member, defaults: Permissions(copy: true)))
        #expect(!asMember.allowed)
        #expect(asMember.requiredModifications.map(\.action) == ["reduce permissions to VIEW,COPY"])
        let asAdmin = PolicyEngine.evaluate(parsed(.circles([circle]), permissions: wide), context: circleContext(role: .admin))
        #expect(asAdmin.allowed && asAdmin.flags == [.exceedsCircleDefaults])
    }

    @Test func circleSettingsCanStopMembersOrRequireApproval() {
        let noMembers = circleContext(role: .member, settings: CircleSharingSettings(membersMayShare: false))
        #expect(!PolicyEngine.evaluate(parsed(.circles([circle])), context: noMembers).allowed)
        #expect(PolicyEngine.evaluate(parsed(.circles([circle])), context: circleContext(role: .admin, settings: CircleSharingSettings(membersMayShare: false))).allowed)
        let approval = PolicyEngine.evaluate(parsed(.circles([circle])), context: circleContext(role: .member, settings: CircleSharingSettings(requireApproval: true)))
        #expect(approval.allowed && approval.flags == [.requiresApproval])
    }

    @Test func blockedUsersCannotShareOrReceive() {
        let system = SystemPolicy(blockedUsers: [owner, alice])
        let decision = PolicyEngine.evaluate(parsed(.users([alice, bob])), context: PolicyContext(system: system))
        #expect(decision.denials.map(\.field) == ["actorDid", "audience.userDids[0]"])
    }

    @Test func moderationOfTheContentIsEnforcedAndRecorded() {
        func decide(_ flag: ModerationFlag, _ audience: Audience, _ permissions: Permissions = .viewOnly) -> PolicyDecision {
            PolicyEngine.evaluate(parsed(audience, permissions: permissions), context: PolicyContext(system: SystemPolicy(contentModeration: [content: flag])))
        }
        #expect(!decide(.blocked, .users([alice])).allowed)
        #expect(!decide(.restricted, .public).allowed)
        #expect(!decide(.restricted, .users([alice]), Permissions(copy: true)).allowed)
        let restricted = decide(.restricted, .users([alice]))
        #expect(restricted.allowed && restricted.moderationFlag == .restricted && restricted.flags == [.moderated])
        #expect(decide(.none, .public).moderationFlag == .none)
    }

    @Test func publicSharingCanBeSwitchedOffServerWide() {
        let off = PolicyContext(system: SystemPolicy(publicSharingEnabled: false))
        #expect(!PolicyEngine.evaluate(parsed(.public), context: off).allowed)
        #expect(PolicyEngine.evaluate(parsed(.link(nil)), context: off).allowed)
    }
}

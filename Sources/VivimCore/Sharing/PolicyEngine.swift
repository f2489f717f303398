import Foundation

/// A circle's sharing settings (SPEC §2.1 `circles.sharing settings`, §5.3 circle policy).
public struct CircleSharingSettings: Sendable, Equatable, Codable {
    /// Whether plain members (with canShare) may share into the circle; owner and admins always may.
    public var membersMayShare: Bool
    /// Plain members may grant at most the circle's default permissions.
    public var capMembersAtDefaultPermissions: Bool
    /// Shares into the circle wait for an admin's approval (SPEC §10.4 requireApproval).
    public var requireApproval: Bool

    public init(membersMayShare: Bool = true, capMembersAtDefaultPermissions: Bool = true, requireApproval: Bool = false) {
        self.membersMayShare = membersMayShare
        self.capMembersAtDefaultPermissions = capMembersAtDefaultPermissions
        self.requireApproval = requireApproval
    }
}

/// The owner's own sharing rules (SPEC §5.1 privacy lock, §10.4 settings).
public struct UserSharingPolicy: Sendable, Equatable {
    /// Content the owner locked as LOCAL; sharing it is a POLICY_VIOLATION.
    public var lockedContent: Set<ContentID>
    public var allowPublicSharing: Bool
    /// Open (PUBLIC or LINK) shares must end: an expiry or a view budget.
    public var requireExpiryForOpenShares: Bool

    public init(lockedContent: Set<ContentID> = [], allowPublicSharing: Bool = true, requireExpiryForOpenShares: Bool = false) {
        self.lockedContent = lockedContent
        self.allowPublicSharing = allowPublicSharing
        self.requireExpiryForOpenShares = requireExpiryForOpenShares
    }
}

/// A recipient's settings as they bear on a share to them (SPEC §10.4 blockUnknownUsers).
public struct RecipientPolicy: Sendable, Equatable {
    public var blocksSender: Bool
    public var blockUnknownUsers: Bool
    /// Whether the recipient shares a circle with the sender.
    public var knowsSender: Bool

    public init(blocksSender: Bool = false, blockUnknownUsers: Bool = false, knowsSender: Bool = false) {
        self.blocksSender = blocksSender
        self.blockUnknownUsers = blockUnknownUsers
        self.knowsSender = knowsSender
    }

    public var refusesSender: Bool { blocksSender || (blockUnknownUsers && !knowsSender) }
}

/// Operator-wide rules (SPEC §5.3 system policy). Rate limits are enforced by `RateLimiter`.
public struct SystemPolicy: Sendable, Equatable {
    public var blockedUsers: Set<DID>
    public var contentModeration: [ContentID: ModerationFlag]
    public var publicSharingEnabled: Bool

    public init(blockedUsers: Set<DID> = [], contentModeration: [ContentID: ModerationFlag] = [:], publicSharingEnabled: Bool = true) {
        self.blockedUsers = blockedUsers
        self.contentModeration = contentModeration
        self.publicSharingEnabled = publicSharingEnabled
    }
}

/// Everything the policy engine weighs besides the intent itself.
public struct PolicyContext: Sendable {
    public var user: UserSharingPolicy
    public var circles: [CircleID: CircleFacts]
    public var recipients: [DID: RecipientPolicy]
    public var system: SystemPolicy

    public init(user: UserSharingPolicy = UserSharingPolicy(), circles: [CircleID: CircleFacts] = [:],
                recipients: [DID: RecipientPolicy] = [:], system: SystemPolicy = SystemPolicy()) {
        self.user = user
        self.circles = circles
        self.recipients = recipients
        self.system = system
    }
}

public enum PolicyKind: String, WireEnum { case user = "USER", circle = "CIRCLE", system = "SYSTEM" }
public enum PolicyOutcome: String, WireEnum { case allow = "ALLOW", deny = "DENY" }

/// The verdict of one rule.
public struct PolicyResult: Sendable, Equatable, Codable {
    public var policy: PolicyKind
    public var rule: String
    public var outcome: PolicyOutcome
    public var reason: String?
    public var field: String?

    public init(policy: PolicyKind, rule: String, outcome: PolicyOutcome, reason: String? = nil, field: String? = nil) {
        self.policy = policy
        self.rule = rule
        self.outcome = outcome
        self.reason = reason
        self.field = field
    }
}

/// A change that would make a refused intent acceptable.
public struct RequiredModification: Sendable, Equatable, Codable {
    public var field: String
    public var action: String
    public var reason: String

    public init(field: String, action: String, reason: String) {
        self.field = field
        self.action = action
        self.reason = reason
    }
}

/// Notes that do not refuse but that the service acts on.
public enum PolicyFlag: String, WireEnum {
    case requiresApproval = "REQUIRES_APPROVAL"
    case exceedsCircleDefaults = "EXCEEDS_CIRCLE_DEFAULTS"
    case moderated = "MODERATED"
}

/// The answer of the policy engine (SPEC §5.3): `{allowed, policyResults, requiredModifications, flags}`.
public struct PolicyDecision: Sendable, Equatable, Codable {
    public var policyResults: [PolicyResult] = []
    public var requiredModifications: [RequiredModification] = []
    public var flags: [PolicyFlag] = []
    /// The strongest moderation flag over the intent and its content; store it on the intent.
    public var moderationFlag: ModerationFlag = .none

    public var allowed: Bool { !policyResults.contains { $0.outcome == .deny } }
    public var denials: [PolicyResult] { policyResults.filter { $0.outcome == .deny } }

    enum CodingKeys: String, CodingKey { case allowed, policyResults, requiredModifications, flags, moderationFlag }
    public init() {}
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        policyResults = try c.decode([PolicyResult].self, forKey: .policyResults)
        requiredModifications = try c.decode([RequiredModification].self, forKey: .requiredModifications)
        flags = try c.decode([PolicyFlag].self, forKey: .flags)
        moderationFlag = try c.decode(ModerationFlag.self, forKey: .moderationFlag)
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(allowed, forKey: .allowed)
        try c.encode(policyResults, forKey: .policyResults)
        try c.encode(requiredModifications, forKey: .requiredModifications)
        try c.encode(flags, forKey: .flags)
        try c.encode(moderationFlag, forKey: .moderationFlag)
    }

    /// Throws `POLICY_VIOLATION` listing every refusal when the intent is not allowed.
    public func enforce() throws(VivimError) {
        let denials = denials
        guard !denials.isEmpty else { return }
        let reasons = denials.map { $0.reason ?? $0.rule }
        var details: [String: String] = [:]
        for denial in denials { details[denial.field ?? denial.rule] = denial.reason ?? denial.rule }
        throw VivimError(.policyViolation, "sharing refused by policy: " + reasons.joined(separator: "; "),
                         field: denials.first?.field, details: details)
    }

    mutating func allow(_ policy: PolicyKind, _ rule: String) {
        policyResults.append(PolicyResult(policy: policy, rule: rule, outcome: .allow))
    }

    mutating func deny(_ policy: PolicyKind, _ rule: String, _ reason: String, field: String, fix: String? = nil) {
        policyResults.append(PolicyResult(policy: policy, rule: rule, outcome: .deny, reason: reason, field: field))
        if let fix { requiredModifications.append(RequiredModification(field: field, action: fix, reason: reason)) }
    }

    mutating func flag(_ flag: PolicyFlag) { if !flags.contains(flag) { flags.append(flag) } }
}

/// The policy engine of SPEC §5.3: user, circle and system policy over a parsed intent. Pure.
/// Each rule reports ALLOW or, per offending item, DENY with a reason and (when there is one)
/// the modification that would satisfy it.
public enum PolicyEngine {
    public static func evaluate(_ parsed: ParsedIntentDraft, context: PolicyContext) -> PolicyDecision {
        var decision = PolicyDecision()
        userPolicy(parsed, context, &decision)
        circlePolicy(parsed, context, &decision)
        systemPolicy(parsed, context, &decision)
        return decision
    }

    private static func userPolicy(_ parsed: ParsedIntentDraft, _ context: PolicyContext, _ decision: inout PolicyDecision) {
        let spec = parsed.spec
        let before = decision.policyResults.count
        for (index, id) in spec.content.ids.enumerated() where context.user.lockedContent.contains(id) {
            decision.deny(.user, "lockedContent", "the content is locked as LOCAL", field: "content.ids[\(index)]",
                          fix: "unlock the content or leave it out")
        }
        if decision.policyResults.count == before { decision.allow(.user, "lockedContent") }

        let isOpen = spec.audience.type == .public || spec.audience.type == .link
        if isOpen && !context.user.allowPublicSharing {
            decision.deny(.user, "publicSharing", "the owner's settings forbid open shares", field: "audience.type",
                          fix: "share with circles or users")
        } else {
            decision.allow(.user, "publicSharing")
        }
        if isOpen && context.user.requireExpiryForOpenShares && spec.schedule?.expiresAt == nil && spec.maxViews == nil {
            decision.deny(.user, "openSharesExpire", "the owner's settings require open shares to end", field: "schedule.expiresAt",
                          fix: "set schedule.expiresAt or an access expiration")
        } else {
            decision.allow(.user, "openSharesExpire")
        }

        let recipientsBefore = decision.policyResults.count
        for (index, did) in spec.audience.userDIDs.enumerated() where context.recipients[did]?.refusesSender == true {
            decision.deny(.user, "recipientConsent", "the recipient does not accept shares from you", field: "audience.userDids[\(index)]",
                          fix: "remove this recipient")
        }
        if decision.policyResults.count == recipientsBefore { decision.allow(.user, "recipientConsent") }
    }

    private static func circlePolicy(_ parsed: ParsedIntentDraft, _ context: PolicyContext, _ decision: inout PolicyDecision) {
        guard case .circles(let ids) = parsed.spec.audience else { return }
        for (index, id) in ids.enumerated() {
            let field = "audience.circleIds[\(index)]"
            guard let facts = context.circles[id] else {
                decision.deny(.circle, "circleExists", "circle not found", field: field, fix: "remove this circle")
                continue
            }
            let role = facts.actorMembership?.role
            let isPlainMember = role == .member
            if role == nil || (isPlainMember && !(facts.settings.membersMayShare && facts.actorMayShare)) {
                decision.deny(.circle, "membersMayShare", "you may not share into this circle", field: field, fix: "remove this circle")
            } else {
                decision.allow(.circle, "membersMayShare")
            }
            let defaults = facts.circle.defaultPermissions
            if !parsed.spec.permissions.isSubset(of: defaults) {
                if isPlainMember && facts.settings.capMembersAtDefaultPermissions {
                    let capped = parsed.spec.permissions.intersection(defaults).granted.map(\.rawValue).joined(separator: ",")
                    decision.deny(.circle, "defaultPermissions", "members may grant at most the circle's default permissions",
                                  field: "permissions", fix: "reduce permissions to \(capped.isEmpty ? "none" : capped)")
                } else {
                    decision.allow(.circle, "defaultPermissions")
                    decision.flag(.exceedsCircleDefaults)
                }
            } else {
                decision.allow(.circle, "defaultPermissions")
            }
            if facts.settings.requireApproval && role == .member { decision.flag(.requiresApproval) }
        }
    }

    private static func systemPolicy(_ parsed: ParsedIntentDraft, _ context: PolicyContext, _ decision: inout PolicyDecision) {
        let spec = parsed.spec, system = context.system
        let before = decision.policyResults.count
        if system.blockedUsers.contains(parsed.actorDid) {
            decision.deny(.system, "blockedUsers", "your account may not share", field: "actorDid")
        } else if system.blockedUsers.contains(parsed.ownerDid) {
            decision.deny(.system, "blockedUsers", "the owner's account may not share", field: "ownerDid")
        }
        for (index, did) in spec.audience.userDIDs.enumerated() where system.blockedUsers.contains(did) {
            decision.deny(.system, "blockedUsers", "the recipient is blocked", field: "audience.userDids[\(index)]", fix: "remove this recipient")
        }
        for (index, did) in spec.coOwners.enumerated() where system.blockedUsers.contains(did) {
            decision.deny(.system, "blockedUsers", "the co-owner is blocked", field: "coOwners[\(index)]", fix: "remove this co-owner")
        }
        if decision.policyResults.count == before { decision.allow(.system, "blockedUsers") }

        if spec.audience.type == .public && !system.publicSharingEnabled {
            decision.deny(.system, "publicSharing", "public sharing is disabled on this server", field: "audience.type",
                          fix: "share with circles, users or a link")
        } else {
            decision.allow(.system, "publicSharing")
        }

        var strongest = spec.policy.moderationFlag
        let moderationBefore = decision.policyResults.count
        for (index, id) in spec.content.ids.enumerated() {
            let flag = system.contentModeration[id] ?? .none
            strongest = max(strongest, flag)
            let field = "content.ids[\(index)]"
            switch flag {
            case .blocked:
                decision.deny(.system, "moderation", "the content was removed by moderation", field: field, fix: "leave this content out")
            case .restricted where spec.audience.type == .public || spec.audience.type == .link:
                decision.deny(.system, "moderation", "restricted content cannot be shared openly", field: field, fix: "share with circles or users")
            case .restricted where spec.permissions != .viewOnly:
                decision.deny(.system, "moderation", "restricted content may be shared for viewing only", field: "permissions", fix: "grant view only")
            case .none, .flagged, .restricted:
                break
            }
        }
        if decision.policyResults.count == moderationBefore { decision.allow(.system, "moderation") }
        decision.moderationFlag = strongest
        if strongest != .none { decision.flag(.moderated) }
    }
}

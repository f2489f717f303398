import Foundation

/// A circle as validation and the policy engine need it: the circle, the actor's membership
/// in it (nil for an outsider), its sharing settings and its members now.
public struct CircleFacts: Sendable, Equatable {
    public var circle: Circle
    public var actorMembership: CircleMember?
    public var settings: CircleSharingSettings
    public var memberDids: Set<DID>

    public init(circle: Circle, actorMembership: CircleMember?, settings: CircleSharingSettings = CircleSharingSettings(), memberDids: Set<DID> = []) {
        self.circle = circle
        self.actorMembership = actorMembership
        self.settings = settings
        self.memberDids = memberDids
    }

    /// SPEC §5.3: a member with canShare, or the owner or an admin, may share into a circle.
    public var actorMayShare: Bool {
        guard let member = actorMembership else { return false }
        return member.role != .member || member.canShare
    }
}

/// What the caller looked up for validation (SPEC §5.3); the validator itself does no I/O.
public struct ValidationFacts: Sendable {
    /// Content ids the actor owns or co-owns (from the actor's own SQLite file).
    public var ownedContent: Set<ContentID>
    public var ownedACUs: Set<ACUID>
    /// For a re-share (actor ≠ owner): the actor's effective permissions per content id, from
    /// the `PermissionResolver`.
    public var actorPermissions: [ContentID: Permissions]
    /// Circles named by the draft; a missing one does not exist (or is invisible to the actor).
    public var circles: [CircleID: CircleFacts]
    public var registeredDids: Set<DID>
    public var now: Date

    public init(ownedContent: Set<ContentID> = [], ownedACUs: Set<ACUID> = [], actorPermissions: [ContentID: Permissions] = [:],
                circles: [CircleID: CircleFacts] = [:], registeredDids: Set<DID> = [], now: Date) {
        self.ownedContent = ownedContent
        self.ownedACUs = ownedACUs
        self.actorPermissions = actorPermissions
        self.circles = circles
        self.registeredDids = registeredDids
        self.now = now
    }
}

/// Advice that is neither an error nor a warning (SPEC §5.3 `suggestions`).
public struct Suggestion: Sendable, Equatable, Codable {
    public var field: String
    public var message: String
    public var suggestedValue: String?
    public init(field: String, message: String, suggestedValue: String? = nil) {
        self.field = field
        self.message = message
        self.suggestedValue = suggestedValue
    }
}

/// The answer of validation (SPEC §5.3): `{valid, errors, warnings, suggestions}`, plus the
/// parsed intent when the draft parsed.
public struct ValidationReport: Sendable, Equatable, Encodable {
    public var errors: [ValidationIssue]
    public var warnings: [ValidationIssue]
    public var suggestions: [Suggestion]
    public var parsed: ParsedIntentDraft?

    public var valid: Bool { errors.isEmpty && parsed != nil }

    init(issues: [ValidationIssue], suggestions: [Suggestion], parsed: ParsedIntentDraft?) {
        errors = issues.filter { $0.severity == .error }
        warnings = issues.filter { $0.severity == .warning }
        self.suggestions = suggestions
        self.parsed = errors.isEmpty ? parsed : nil
    }

    enum CodingKeys: String, CodingKey { case valid, errors, warnings, suggestions }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(valid, forKey: .valid)
        try c.encode(errors, forKey: .errors)
        try c.encode(warnings, forKey: .warnings)
        try c.encode(suggestions, forKey: .suggestions)
    }

    /// The parsed intent, or the first error as `VALIDATION_ERROR`.
    public func requireValid() throws(VivimError) -> ParsedIntentDraft {
        if let first = errors.first { throw first.asError }
        guard let parsed else { throw .validation("invalid intent") }
        return parsed
    }
}

/// Validation of SPEC §5.3: a pure function of the draft and the facts the caller looked up.
public enum IntentValidator {
    /// Parses and validates a client draft.
    public static func validate(_ draft: SharingIntentDraft, actor: DID, facts: ValidationFacts) -> ValidationReport {
        var log = IssueLog()
        guard let parsed = draft.parse(actor: actor, log: &log) else {
            return ValidationReport(issues: log.issues, suggestions: [], parsed: nil)
        }
        var suggestions: [Suggestion] = []
        check(parsed, facts: facts, log: &log, suggestions: &suggestions)
        return ValidationReport(issues: log.issues, suggestions: suggestions, parsed: parsed)
    }

    /// Re-validates an already parsed intent against fresh facts (an update, or a publish).
    public static func validate(_ parsed: ParsedIntentDraft, facts: ValidationFacts) -> ValidationReport {
        var log = IssueLog(), suggestions: [Suggestion] = []
        check(parsed, facts: facts, log: &log, suggestions: &suggestions)
        return ValidationReport(issues: log.issues, suggestions: suggestions, parsed: parsed)
    }

    static func check(_ parsed: ParsedIntentDraft, facts: ValidationFacts, log: inout IssueLog, suggestions: inout [Suggestion]) {
        let spec = parsed.spec
        checkContent(parsed, facts: facts, log: &log)
        checkAudience(parsed, facts: facts, log: &log)
        checkPermissions(spec, log: &log)
        checkSchedule(spec, now: facts.now, log: &log)
        checkExpiration(spec, facts: facts, log: &log)
        for (index, coOwner) in spec.coOwners.enumerated() {
            let path = "coOwners[\(index)]"
            if coOwner == parsed.ownerDid {
                log.error(path, .invalidValue, "the owner cannot also be a co-owner")
            } else if !facts.registeredDids.contains(coOwner) {
                log.error(path, .notRegistered, "no registered user has this DID")
            }
        }
        advise(spec, log: &log, suggestions: &suggestions)
    }

    private static func checkContent(_ parsed: ParsedIntentDraft, facts: ValidationFacts, log: inout IssueLog) {
        let content = parsed.spec.content
        if parsed.actorDid == parsed.ownerDid {
            for (index, id) in content.ids.enumerated() where !facts.ownedContent.contains(id) {
                log.error("content.ids[\(index)]", .notOwned, "you do not own this content")
            }
            for (name, acus) in [("includeACUs", content.includeACUs), ("excludeACUs", content.excludeACUs)] {
                for (index, acu) in (acus ?? []).enumerated() where !facts.ownedACUs.contains(acu) {
                    log.error("content.\(name)[\(index)]", .notOwned, "you do not own this ACU")
                }
            }
            return
        }
        // A re-share: the actor needs `share` on every item and cannot hand out more than they hold.
        var held = Permissions.all
        for (index, id) in content.ids.enumerated() {
            let permissions = facts.actorPermissions[id] ?? .none
            held = held.intersection(permissions)
            if !permissions.share {
                log.error("content.ids[\(index)]", .notAllowed, "you may not re-share this content")
            }
        }
        if !parsed.spec.permissions.isSubset(of: held) {
            log.error("permissions", .incoherentPermissions, "a re-share cannot grant more than you hold")
        }
        if parsed.spec.audience == .public || parsed.spec.intentType != .share {
            log.error("intentType", .notAllowed, "a re-share is a SHARE to circles, users or a link")
        }
    }

    private static func checkAudience(_ parsed: ParsedIntentDraft, facts: ValidationFacts, log: inout IssueLog) {
        switch parsed.spec.audience {
        case .public, .link:
            if parsed.spec.policy.requireAcceptance {
                log.warning("policy.requireAcceptance", .ignored, "acceptance applies to circle and user audiences only")
            }
        case .circles(let ids):
            for (index, id) in ids.enumerated() {
                let path = "audience.circleIds[\(index)]"
                guard let circle = facts.circles[id], CirclePolicy.canSee(circle.circle, actor: circle.actorMembership) else {
                    log.error(path, .notFound, "circle not found")
                    continue
                }
                if !circle.actorMayShare {
                    log.error(path, .notAllowed, "you may not share into this circle")
                }
            }
        case .users(let dids):
            for (index, did) in dids.enumerated() {
                let path = "audience.userDids[\(index)]"
                if did == parsed.ownerDid {
                    log.warning(path, .ignored, "the owner always has access")
                } else if !facts.registeredDids.contains(did) {
                    log.error(path, .notRegistered, "no registered user has this DID")
                }
            }
        }
    }

    private static func checkPermissions(_ spec: IntentSpec, log: inout IssueLog) {
        let p = spec.permissions
        if !p.view {
            log.error("permissions.view", .incoherentPermissions,
                      p.granted.isEmpty ? "a share must grant at least view" : "every permission needs view")
        }
        switch spec.intentType {
        case .fork where !p.remix:
            log.error("permissions.remix", .incoherentPermissions, "a FORK intent lets recipients remix; set remix")
        case .embed where spec.audience.type != .public && spec.audience.type != .link:
            log.error("intentType", .invalidValue, "an EMBED intent needs a PUBLIC or LINK audience")
        case .publish where spec.audience.type != .public:
            log.warning("intentType", .risky, "PUBLISH usually goes with a PUBLIC audience")
        default:
            break
        }
    }

    private static func checkSchedule(_ spec: IntentSpec, now: Date, log: inout IssueLog) {
        guard let schedule = spec.schedule else { return }
        if let expiresAt = schedule.expiresAt, expiresAt <= now {
            log.error("schedule.expiresAt", .invalidSchedule, "schedule.expiresAt must be in the future")
        }
        if let publishAt = schedule.publishAt, publishAt < now {
            log.warning("schedule.publishAt", .ignored, "schedule.publishAt is in the past; the intent publishes at once")
        }
    }

    private static func checkExpiration(_ spec: IntentSpec, facts: ValidationFacts, log: inout IssueLog) {
        guard case .condition(.recipientLeavesCircle(let circleID)) = spec.expiration else { return }
        guard case .users(let recipients) = spec.audience else {
            log.error("expiration.condition", .invalidValue,
                      "RECIPIENT_LEAVES_CIRCLE applies to a USERS audience; circle audiences lose access on leaving anyway")
            return
        }
        guard let circle = facts.circles[circleID], CirclePolicy.canSee(circle.circle, actor: circle.actorMembership) else {
            log.error("expiration.condition.circleId", .notFound, "circle not found")
            return
        }
        for (index, did) in recipients.enumerated() where !circle.memberDids.contains(did) {
            log.error("audience.userDids[\(index)]", .invalidValue, "this recipient is not a member of the condition's circle")
        }
    }

    private static func advise(_ spec: IntentSpec, log: inout IssueLog, suggestions: inout [Suggestion]) {
        let isOpen = spec.audience.type == .public || spec.audience.type == .link
        if isOpen {
            if spec.permissions.download || spec.permissions.remix {
                log.warning("permissions", .risky, "anyone who finds this share may download or remix it")
            }
            if spec.schedule?.expiresAt == nil, spec.maxViews == nil {
                suggestions.append(Suggestion(field: "schedule.expiresAt", message: "an open share without an end stays reachable for ever; consider an expiry"))
            }
            if !(spec.transformations?.redactPersonalInfo ?? false) {
                suggestions.append(Suggestion(field: "transformations.redactPersonalInfo", message: "redact personal information before sharing openly", suggestedValue: "true"))
            }
            if spec.metadata.title == nil {
                suggestions.append(Suggestion(field: "metadata.title", message: "a title helps people who open the share"))
            }
        } else if spec.permissions.share {
            log.warning("permissions.share", .risky, "recipients may pass this content on")
        }
    }
}

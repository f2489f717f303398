import Foundation

/// A recipient's answer to an intent (SPEC §2.1 `audience_members.status`).
public enum RecipientResponse: String, WireEnum {
    case pending = "PENDING", accepted = "ACCEPTED", declined = "DECLINED", removed = "REMOVED"
}

/// What the caller knows about the asker and the world *now* (SPEC §5.4). Memberships are
/// read per request, so leaving a circle takes effect on the next request.
public struct ResolutionFacts: Sendable, Equatable {
    /// The asker; nil for an anonymous visitor.
    public var did: DID?
    /// Circles the asker is a member of now.
    public var circleMemberships: Set<CircleID>
    /// Intents the asker reached through a usable share link (`ShareLink.state` is `.active`).
    public var linkGrants: Set<IntentID>
    /// Views counted so far per intent, for view budgets.
    public var viewCounts: [IntentID: Int]
    /// The asker's answer per intent; absent means PENDING.
    public var responses: [IntentID: RecipientResponse]
    /// A moderation flag on the content itself, from the system policy.
    public var contentModeration: ModerationFlag
    public var now: Date

    public init(did: DID?, circleMemberships: Set<CircleID> = [], linkGrants: Set<IntentID> = [], viewCounts: [IntentID: Int] = [:],
                responses: [IntentID: RecipientResponse] = [:], contentModeration: ModerationFlag = .none, now: Date) {
        self.did = did
        self.circleMemberships = circleMemberships
        self.linkGrants = linkGrants
        self.viewCounts = viewCounts
        self.responses = responses
        self.contentModeration = contentModeration
        self.now = now
    }
}

/// Why a check was refused.
public enum AccessDenial: String, WireEnum {
    /// No ACTIVE intent in its window and budget has the asker in its audience.
    case noAccess = "NO_ACCESS"
    /// The asker has access, but no intent grants this permission.
    case notGranted = "NOT_GRANTED"
    /// An intent would grant it, but moderation took it away.
    case moderated = "MODERATED"
}

/// The answer of `GET /permissions/:contentId/check` (SPEC §5.4).
public struct PermissionCheck: Sendable, Equatable, Codable {
    public var allowed: Bool
    public var permission: Permission
    /// When the last grant of this permission ends; nil if a grant has no end (or for the owner).
    public var expiresAt: Date?
    public var reason: AccessDenial?

    public init(allowed: Bool, permission: Permission, expiresAt: Date?, reason: AccessDenial?) {
        self.allowed = allowed
        self.permission = permission
        self.expiresAt = expiresAt
        self.reason = reason
    }
}

/// One intent's contribution to the asker's permissions.
public struct PermissionGrant: Sendable, Equatable, Codable {
    public var intentID: IntentID
    /// After moderation.
    public var permissions: Permissions
    public var expiresAt: Date?
    /// What the intent would grant without moderation.
    public var requested: Permissions

    public init(intentID: IntentID, permissions: Permissions, expiresAt: Date?, requested: Permissions) {
        self.intentID = intentID
        self.permissions = permissions
        self.expiresAt = expiresAt
        self.requested = requested
    }
}

/// The answer of `GET /permissions/:contentId/effective` (SPEC §5.4): the union over grants.
public struct EffectivePermissions: Sendable, Equatable, Codable {
    public var permissions: Permissions
    public var isOwner: Bool
    public var grants: [PermissionGrant]

    public init(permissions: Permissions, isOwner: Bool, grants: [PermissionGrant]) {
        self.permissions = permissions
        self.isOwner = isOwner
        self.grants = grants
    }

    public static func owner() -> EffectivePermissions { EffectivePermissions(permissions: .all, isOwner: true, grants: []) }

    public func check(_ permission: Permission) -> PermissionCheck {
        if isOwner { return PermissionCheck(allowed: true, permission: permission, expiresAt: nil, reason: nil) }
        let granting = grants.filter { $0.permissions[permission] }
        guard !granting.isEmpty else {
            let reason: AccessDenial =
                grants.contains(where: { $0.requested[permission] }) ? .moderated : grants.isEmpty ? .noAccess : .notGranted
            return PermissionCheck(allowed: false, permission: permission, expiresAt: nil, reason: reason)
        }
        let ends = granting.map(\.expiresAt)
        let expiresAt = ends.contains(where: { $0 == nil }) ? nil : ends.compactMap { $0 }.max()
        return PermissionCheck(allowed: true, permission: permission, expiresAt: expiresAt, reason: nil)
    }
}

extension SharingIntent {
    /// When the intent stops being served: its recorded expiry, else the scheduled one.
    public var effectiveExpiry: Date? { expiresAt ?? spec.schedule?.expiresAt }

    /// Whether the intent serves content at `now` with `viewCount` views spent: ACTIVE, inside
    /// `[publishAt, expiry)` and under its view budget (SPEC §5.2, §5.4).
    public func isServing(at now: Date, viewCount: Int) -> Bool {
        guard status == .active else { return false }
        if let publishAt = spec.schedule?.publishAt, now < publishAt { return false }
        if let end = effectiveExpiry, now >= end { return false }
        if let maxViews = spec.maxViews, viewCount >= maxViews { return false }
        return true
    }
}

/// Resolution of SPEC §5.4: which permissions a DID has on a piece of content. Pure.
public enum PermissionResolver {
    /// `intents` may include intents for other content; only those covering `contentID` count.
    public static func effective(contentID: ContentID, contentOwner: DID, intents: [SharingIntent],
                                 facts: ResolutionFacts) -> EffectivePermissions {
        if facts.did == contentOwner { return .owner() }
        var grants: [PermissionGrant] = []
        var union = Permissions.none
        for intent in intents {
            guard let grant = grant(of: intent, contentID: contentID, facts: facts) else { continue }
            union = union.union(grant.permissions)
            grants.append(grant)
        }
        return EffectivePermissions(permissions: union, isOwner: false, grants: grants)
    }

    /// What one intent grants the asker, if it covers the content, serves now and has them in its audience.
    static func grant(of intent: SharingIntent, contentID: ContentID, facts: ResolutionFacts) -> PermissionGrant? {
        guard intent.spec.content.ids.contains(contentID) else { return nil }
        let views = intent.spec.maxViews == nil ? 0 : facts.viewCounts[intent.id] ?? 0
        guard intent.isServing(at: facts.now, viewCount: views), audience(of: intent, contains: facts) else { return nil }
        let moderation = max(intent.spec.policy.moderationFlag, facts.contentModeration)
        return PermissionGrant(intentID: intent.id, permissions: moderation.apply(to: intent.spec.permissions),
                               expiresAt: intent.effectiveExpiry, requested: intent.spec.permissions)
    }

    public static func check(_ permission: Permission, contentID: ContentID, contentOwner: DID, intents: [SharingIntent],
                             facts: ResolutionFacts) -> PermissionCheck {
        effective(contentID: contentID, contentOwner: contentOwner, intents: intents, facts: facts).check(permission)
    }

    /// Whether the asker is in the intent's audience now: a link holder, anyone for PUBLIC,
    /// a listed user or a current member of a listed circle — the last two only if they did not
    /// decline or get removed, and only once accepted when the intent requires acceptance.
    static func audience(of intent: SharingIntent, contains facts: ResolutionFacts) -> Bool {
        if !facts.linkGrants.isEmpty && facts.linkGrants.contains(intent.id) { return true }
        let listed: Bool
        switch intent.spec.audience {
        case .public: return true
        case .link: return false
        case .users(let dids):
            guard let did = facts.did, dids.contains(did) else { return false }
            if case .condition(.recipientLeavesCircle(let circle)) = intent.spec.expiration, !facts.circleMemberships.contains(circle) {
                return false
            }
            listed = true
        case .circles(let ids):
            listed = facts.did != nil && ids.contains(where: facts.circleMemberships.contains)
        }
        guard listed else { return false }
        switch facts.responses.isEmpty ? .pending : facts.responses[intent.id] ?? .pending {
        case .accepted: return true
        case .pending: return !intent.spec.policy.requireAcceptance
        case .declined, .removed: return false
        }
    }
}

extension PrivacyLevel {
    /// SPEC §5.1: LOCAL while locked or while no ACTIVE intent covers the content, PUBLIC
    /// while a public one does, SHARED otherwise.
    public static func of(_ contentID: ContentID, intents: some Sequence<SharingIntent>, locked: Bool) -> PrivacyLevel {
        if locked { return .local }
        var level = PrivacyLevel.local
        for intent in intents where intent.status == .active && intent.spec.content.ids.contains(contentID) {
            if intent.spec.audience == .public { return .public }
            level = .shared
        }
        return level
    }
}

import Foundation

public enum CircleRole: String, Sendable, Codable, CaseIterable {
    case owner, admin, member

    public init(parsing text: String, field: String = "role") throws(VivimError) {
        guard let role = CircleRole(rawValue: text.lowercased()) else {
            throw .validation("role must be owner, admin or member", field: field)
        }
        self = role
    }
}

/// A named group of people a user shares with (SPEC §3).
public struct Circle: Sendable, Equatable {
    public var id: CircleID
    public var name: String
    public var description: String?
    public var icon: String?
    public var ownerDid: DID
    public var isPrivate: Bool
    public var defaultPermissions: Permissions
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: CircleID, name: String, description: String?, icon: String?, ownerDid: DID, isPrivate: Bool,
                defaultPermissions: Permissions, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.name = name
        self.description = description
        self.icon = icon
        self.ownerDid = ownerDid
        self.isPrivate = isPrivate
        self.defaultPermissions = defaultPermissions
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

public struct CircleMember: Sendable, Equatable {
    public var circleID: CircleID
    public var did: DID
    public var role: CircleRole
    public var canInvite: Bool
    public var canShare: Bool
    public var joinedAt: Date

    public init(circleID: CircleID, did: DID, role: CircleRole, canInvite: Bool, canShare: Bool, joinedAt: Date) {
        self.circleID = circleID
        self.did = did
        self.role = role
        self.canInvite = canInvite
        self.canShare = canShare
        self.joinedAt = joinedAt
    }
}

/// A change to a member's role or flags.
public struct MemberChange: Sendable, Equatable {
    public var role: CircleRole?
    public var canInvite: Bool?
    public var canShare: Bool?
    public init(role: CircleRole? = nil, canInvite: Bool? = nil, canShare: Bool? = nil) {
        self.role = role
        self.canInvite = canInvite
        self.canShare = canShare
    }
}

/// Who may do what in a circle. Pure: callers pass the actor's membership (nil for an
/// outsider). Refusals of things an outsider may not even know exist are `notFound`.
public enum CirclePolicy {
    /// Private circles are invisible to everyone but their members.
    public static func canSee(_ circle: Circle, actor: CircleMember?) -> Bool {
        !circle.isPrivate || actor != nil
    }

    public static func requireVisible(_ circle: Circle, actor: CircleMember?) throws(VivimError) {
        guard canSee(circle, actor: actor) else { throw .notFound("circle not found") }
    }

    public static func authorizeEdit(_ circle: Circle, actor: CircleMember?) throws(VivimError) {
        try requireVisible(circle, actor: actor)
        guard let actor, actor.role != .member else {
            throw .forbidden("only the owner or an admin may change this circle")
        }
    }

    public static func authorizeDelete(_ circle: Circle, actor: CircleMember?) throws(VivimError) {
        try requireVisible(circle, actor: actor)
        guard actor?.role == .owner else { throw .forbidden("only the owner may delete this circle") }
    }

    /// Owner and admins add members; a member with canInvite adds plain members. Only the
    /// owner makes admins. Nobody adds a second owner.
    public static func authorizeAdd(_ circle: Circle, actor: CircleMember?, newRole: CircleRole) throws(VivimError) {
        try requireVisible(circle, actor: actor)
        guard let actor else { throw .forbidden("only members may invite") }
        switch newRole {
        case .owner:
            throw .validation("a circle has exactly one owner", field: "role")
        case .admin:
            guard actor.role == .owner else { throw .forbidden("only the owner may add admins") }
        case .member:
            guard actor.role != .member || actor.canInvite else {
                throw .forbidden("you may not invite members to this circle")
            }
        }
    }

    public static func authorizeUpdate(_ circle: Circle, actor: CircleMember?, target: CircleMember, change: MemberChange) throws(VivimError) {
        try requireVisible(circle, actor: actor)
        guard let actor else { throw .forbidden("only members may change members") }
        guard target.role != .owner else { throw .forbidden("the owner's membership cannot be changed") }
        if change.role == .owner { throw .validation("a circle has exactly one owner", field: "role") }
        switch actor.role {
        case .owner:
            return
        case .admin:
            guard target.role == .member, change.role != .admin else {
                throw .forbidden("admins may change plain members only, and may not make admins")
            }
        case .member:
            throw .forbidden("only the owner or an admin may change members")
        }
    }

    /// Anyone but the owner may leave; the owner removes anyone; admins remove plain members.
    public static func authorizeRemove(_ circle: Circle, actor: CircleMember?, target: CircleMember) throws(VivimError) {
        try requireVisible(circle, actor: actor)
        guard let actor else { throw .forbidden("only members may remove members") }
        if actor.did == target.did {
            guard target.role != .owner else {
                throw .conflict("the owner cannot leave their circle; delete it instead")
            }
            return
        }
        switch actor.role {
        case .owner: return
        case .admin:
            guard target.role == .member else { throw .forbidden("admins may remove plain members only") }
        case .member:
            throw .forbidden("only the owner or an admin may remove members")
        }
    }
}

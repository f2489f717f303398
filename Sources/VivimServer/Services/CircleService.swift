import Foundation
import VivimCore
import VivimStore

/// A membership change, published so later layers (policy engine, epoch-key rotation,
/// condition-based expiry) can react to it.
public enum CircleEvent: Sendable, Equatable {
    case memberAdded(CircleID, DID)
    case memberRemoved(CircleID, DID)
    case memberChanged(CircleID, DID)
    case circleDeleted(CircleID)
}

/// Receives circle events. The server's default only logs; the sharing layer subscribes.
public protocol CircleEventSink: Sendable {
    func circleEvent(_ event: CircleEvent) async
}

/// Circles (SPEC §3): the master store does the storing, `CirclePolicy` the deciding.
final class CircleService: Sendable {
    let master: any MasterStore
    let clock: any WallClock
    let events: any CircleEventSink

    init(master: any MasterStore, clock: any WallClock, events: any CircleEventSink) {
        self.master = master
        self.clock = clock
        self.events = events
    }

    struct Draft {
        var name: String
        var description: String?
        var icon: String?
        var isPrivate: Bool
        var defaultPermissions: Permissions
    }

    func create(_ draft: Draft, owner: DID) async throws -> CircleSummary {
        let now = clock.now
        let circle = Circle(id: CircleID(), name: draft.name, description: draft.description, icon: draft.icon, ownerDid: owner,
                            isPrivate: draft.isPrivate, defaultPermissions: draft.defaultPermissions, createdAt: now, updatedAt: now)
        let membership = CircleMember(circleID: circle.id, did: owner, role: .owner, canInvite: true, canShare: true, joinedAt: now)
        try await master.createCircle(circle, owner: membership)
        return CircleSummary(circle: circle, membership: membership, memberCount: 1)
    }

    /// The circle and the caller's membership; `notFound` if it is private and they are outside.
    func load(_ id: CircleID, caller: DID) async throws -> (Circle, CircleMember?) {
        guard let circle = try await master.circle(id) else { throw VivimError.notFound("circle not found") }
        let membership = try await master.member(caller, of: id)
        try CirclePolicy.requireVisible(circle, actor: membership)
        return (circle, membership)
    }

    struct Patch {
        var name: String?
        var description: String??
        var icon: String??
        var isPrivate: Bool?
        var defaultPermissions: Permissions?
    }

    func update(_ id: CircleID, patch: Patch, caller: DID) async throws -> Circle {
        var (circle, membership) = try await load(id, caller: caller)
        try CirclePolicy.authorizeEdit(circle, actor: membership)
        if let name = patch.name { circle.name = name }
        if let description = patch.description { circle.description = description }
        if let icon = patch.icon { circle.icon = icon }
        if let isPrivate = patch.isPrivate { circle.isPrivate = isPrivate }
        if let permissions = patch.defaultPermissions { circle.defaultPermissions = permissions }
        circle.updatedAt = clock.now
        try await master.updateCircle(circle)
        return circle
    }

    func delete(_ id: CircleID, caller: DID) async throws {
        let (circle, membership) = try await load(id, caller: caller)
        try CirclePolicy.authorizeDelete(circle, actor: membership)
        try await master.deleteCircle(id)
        await events.circleEvent(.circleDeleted(id))
    }

    func members(_ id: CircleID, caller: DID, page: PageRequest) async throws -> Page<CircleMember> {
        let (_, membership) = try await load(id, caller: caller)
        guard membership != nil else { throw VivimError.forbidden("only members may list the members") }
        return try await master.members(of: id, page: page)
    }

    func addMember(_ id: CircleID, did: DID, role: CircleRole, canInvite: Bool?, canShare: Bool?, caller: DID) async throws -> CircleMember {
        let (circle, membership) = try await load(id, caller: caller)
        try CirclePolicy.authorizeAdd(circle, actor: membership, newRole: role)
        guard try await master.user(did) != nil else {
            throw VivimError(.notFound, "this DID is not registered", field: "did")
        }
        let member = CircleMember(circleID: id, did: did, role: role, canInvite: canInvite ?? (role == .admin),
                                  canShare: canShare ?? true, joinedAt: clock.now)
        do {
            try await master.addMember(member)
        } catch let error as VivimError where error.code == .conflict {
            throw VivimError.conflict("already a member of this circle")
        }
        await events.circleEvent(.memberAdded(id, did))
        return member
    }

    func updateMember(_ id: CircleID, did: DID, change: MemberChange, caller: DID) async throws -> CircleMember {
        let (circle, membership) = try await load(id, caller: caller)
        guard var target = try await master.member(did, of: id) else { throw VivimError.notFound("not a member of this circle") }
        try CirclePolicy.authorizeUpdate(circle, actor: membership, target: target, change: change)
        if let role = change.role { target.role = role }
        if let canInvite = change.canInvite { target.canInvite = canInvite }
        if let canShare = change.canShare { target.canShare = canShare }
        try await master.updateMember(target)
        await events.circleEvent(.memberChanged(id, did))
        return target
    }

    func removeMember(_ id: CircleID, did: DID, caller: DID) async throws {
        let (circle, membership) = try await load(id, caller: caller)
        guard let target = try await master.member(did, of: id) else { throw VivimError.notFound("not a member of this circle") }
        try CirclePolicy.authorizeRemove(circle, actor: membership, target: target)
        _ = try await master.removeMember(did, from: id)
        await events.circleEvent(.memberRemoved(id, did))
    }
}

import Foundation
import Hummingbird
import VivimCore
import VivimStore

struct CreateCircleRequest: Decodable {
    var name: String
    var description: String?
    var icon: String?
    var isPrivate: Bool?
    var defaultPermissions: Permissions?
}

/// A PATCH body: absent keys are left alone, `null` clears optional text fields.
struct PatchCircleRequest: Decodable {
    var name: String?
    var description: String??
    var icon: String??
    var isPrivate: Bool?
    var defaultPermissions: Permissions?

    enum CodingKeys: String, CodingKey { case name, description, icon, isPrivate, defaultPermissions }
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        description = container.contains(.description) ? .some(try container.decodeIfPresent(String.self, forKey: .description)) : nil
        icon = container.contains(.icon) ? .some(try container.decodeIfPresent(String.self, forKey: .icon)) : nil
        isPrivate = try container.decodeIfPresent(Bool.self, forKey: .isPrivate)
        defaultPermissions = try container.decodeIfPresent(Permissions.self, forKey: .defaultPermissions)
        guard !container.allKeys.isEmpty else {
            throw VivimError.validation("nothing to change: send name, description, icon, isPrivate or defaultPermissions")
        }
    }
}

struct AddMemberRequest: Decodable { var did: String; var role: String?; var canInvite: Bool?; var canShare: Bool? }

struct PatchMemberRequest: Decodable {
    var role: String?
    var canInvite: Bool?
    var canShare: Bool?

    enum CodingKeys: String, CodingKey { case role, canInvite, canShare }
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        role = try container.decodeIfPresent(String.self, forKey: .role)
        canInvite = try container.decodeIfPresent(Bool.self, forKey: .canInvite)
        canShare = try container.decodeIfPresent(Bool.self, forKey: .canShare)
        guard role != nil || canInvite != nil || canShare != nil else {
            throw VivimError.validation("nothing to change: send role, canInvite or canShare")
        }
    }
}

struct CircleView: Encodable {
    var id: String
    var name: String
    var description: String?
    var icon: String?
    var ownerDid: String
    var isPrivate: Bool
    var defaultPermissions: Permissions
    var createdAt: Date
    var updatedAt: Date
    var memberCount: Int?
    var myRole: String?

    init(_ circle: Circle, memberCount: Int?, myRole: CircleRole?) {
        id = circle.id.rawValue
        name = circle.name
        description = circle.description
        icon = circle.icon
        ownerDid = circle.ownerDid.description
        isPrivate = circle.isPrivate
        defaultPermissions = circle.defaultPermissions
        createdAt = circle.createdAt
        updatedAt = circle.updatedAt
        self.memberCount = memberCount
        self.myRole = myRole?.rawValue
    }
}

struct MemberView: Encodable {
    var did: String
    var role: String
    var canInvite: Bool
    var canShare: Bool
    var joinedAt: Date
    init(_ member: CircleMember) {
        did = member.did.description
        role = member.role.rawValue
        canInvite = member.canInvite
        canShare = member.canShare
        joinedAt = member.joinedAt
    }
}

func optionalText(_ value: String?, field: String, max: Int = InputLimits.maxStringLength) throws -> String? {
    guard let value else { return nil }
    try InputLimits.checkString(value, field: field, max: max)
    return value
}

extension VivimServerApp {
    func addCircleRoutes(_ routes: RouteBuilder) {
        let circles = services.circles, master = services.master, limit = configuration.bodyLimit

        routes.add(.post, "/api/v1/circles") { request, context in
            let caller = try context.requireCaller()
            let body = try await request.decodeJSON(as: CreateCircleRequest.self, limit: limit)
            let draft = CircleService.Draft(
                name: try InputLimits.name(body.name, field: "name"),
                description: try optionalText(body.description, field: "description"),
                icon: try optionalText(body.icon, field: "icon", max: 2_048),
                isPrivate: body.isPrivate ?? true, defaultPermissions: body.defaultPermissions ?? .viewOnly)
            let summary = try await circles.create(draft, owner: caller.did)
            return try context.respond(CircleView(summary.circle, memberCount: 1, myRole: .owner), status: .created)
        }

        routes.add(.get, "/api/v1/circles") { request, context in
            let caller = try context.requireCaller()
            let relationText = try request.stringQuery("relation") ?? "all"
            guard let relation = CircleRelation(rawValue: relationText) else {
                throw VivimError.validation("relation must be owned, member or all", field: "relation")
            }
            let page = try request.pageRequest()
            let result = try await master.circles(of: caller.did, relation: relation, page: PageRequest(page: page.page, pageSize: page.pageSize))
            return try context.respond(page: result) { CircleView($0.circle, memberCount: $0.memberCount, myRole: $0.membership.role) }
        }

        routes.add(.get, "/api/v1/circles/:id") { _, context in
            let caller = try context.requireCaller()
            let id = try CircleID(parsing: try context.parameter("id"))
            let (circle, membership) = try await circles.load(id, caller: caller.did)
            return try context.respond(CircleView(circle, memberCount: try await master.memberCount(of: id), myRole: membership?.role))
        }

        routes.add(.patch, "/api/v1/circles/:id") { request, context in
            let caller = try context.requireCaller()
            let id = try CircleID(parsing: try context.parameter("id"))
            let body = try await request.decodeJSON(as: PatchCircleRequest.self, limit: limit)
            let patch = CircleService.Patch(
                name: try body.name.map { try InputLimits.name($0, field: "name") },
                description: try body.description.map { try optionalText($0, field: "description") },
                icon: try body.icon.map { try optionalText($0, field: "icon", max: 2_048) },
                isPrivate: body.isPrivate, defaultPermissions: body.defaultPermissions)
            let circle = try await circles.update(id, patch: patch, caller: caller.did)
            let membership = try await master.member(caller.did, of: id)
            return try context.respond(CircleView(circle, memberCount: try await master.memberCount(of: id), myRole: membership?.role))
        }

        routes.add(.delete, "/api/v1/circles/:id") { _, context in
            let caller = try context.requireCaller()
            let id = try CircleID(parsing: try context.parameter("id"))
            try await circles.delete(id, caller: caller.did)
            return try context.respond(["deleted": id.rawValue])
        }

        routes.add(.get, "/api/v1/circles/:id/members") { request, context in
            let caller = try context.requireCaller()
            let id = try CircleID(parsing: try context.parameter("id"))
            let page = try request.pageRequest()
            let members = try await circles.members(id, caller: caller.did, page: PageRequest(page: page.page, pageSize: page.pageSize))
            return try context.respond(page: members, MemberView.init)
        }

        routes.add(.post, "/api/v1/circles/:id/members") { request, context in
            let caller = try context.requireCaller()
            let id = try CircleID(parsing: try context.parameter("id"))
            let body = try await request.decodeJSON(as: AddMemberRequest.self, limit: limit)
            let role = try body.role.map { try CircleRole(parsing: $0) } ?? .member
            let member = try await circles.addMember(id, did: try DID(parsing: body.did), role: role,
                                                     canInvite: body.canInvite, canShare: body.canShare, caller: caller.did)
            return try context.respond(MemberView(member), status: .created)
        }

        routes.add(.patch, "/api/v1/circles/:id/members/:did") { request, context in
            let caller = try context.requireCaller()
            let id = try CircleID(parsing: try context.parameter("id"))
            let did = try DID(parsing: try context.parameter("did"))
            let body = try await request.decodeJSON(as: PatchMemberRequest.self, limit: limit)
            let change = MemberChange(role: try body.role.map { try CircleRole(parsing: $0) }, canInvite: body.canInvite, canShare: body.canShare)
            let member = try await circles.updateMember(id, did: did, change: change, caller: caller.did)
            return try context.respond(MemberView(member))
        }

        routes.add(.delete, "/api/v1/circles/:id/members/:did") { _, context in
            let caller = try context.requireCaller()
            let id = try CircleID(parsing: try context.parameter("id"))
            let did = try DID(parsing: try context.parameter("did"))
            try await circles.removeMember(id, did: did, caller: caller.did)
            return try context.respond(["removed": did.description])
        }
    }
}

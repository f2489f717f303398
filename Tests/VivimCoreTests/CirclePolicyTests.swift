import Foundation
import Testing
import VivimCore

@Suite struct CirclePolicyTests {
    let owner = SigningIdentityStub.did(1), admin = SigningIdentityStub.did(2), member = SigningIdentityStub.did(3)
    let inviter = SigningIdentityStub.did(4), outsider = SigningIdentityStub.did(5)

    func circle(isPrivate: Bool = true) -> Circle {
        Circle(id: CircleID(), name: "c", description: nil, icon: nil, ownerDid: owner, isPrivate: isPrivate,
               defaultPermissions: .viewOnly, createdAt: Date(), updatedAt: Date())
    }

    func membership(_ did: DID, _ role: CircleRole, canInvite: Bool = false, in circle: Circle) -> CircleMember {
        CircleMember(circleID: circle.id, did: did, role: role, canInvite: canInvite, canShare: true, joinedAt: Date())
    }

    @Test func privateCirclesAreInvisibleToOutsiders() {
        let c = circle()
        #expect(!CirclePolicy.canSee(c, actor: nil))
        #expect(CirclePolicy.canSee(circle(isPrivate: false), actor: nil))
        #expect(throws: VivimError.notFound("circle not found")) { try CirclePolicy.authorizeEdit(c, actor: nil) }
    }

    @Test func whoMayAddWhom() throws {
        let c = circle()
        let ownerM = membership(owner, .owner, in: c), adminM = membership(admin, .admin, in: c)
        let memberM = membership(member, .member, in: c), inviterM = membership(inviter, .member, canInvite: true, in: c)
        try CirclePolicy.authorizeAdd(c, actor: ownerM, newRole: .admin)
        try CirclePolicy.authorizeAdd(c, actor: adminM, newRole: .member)
        try CirclePolicy.authorizeAdd(c, actor: inviterM, newRole: .member)
        #expect(throws: VivimError.self) { try CirclePolicy.authorizeAdd(c, actor: adminM, newRole: .admin) }
        #expect(throws: VivimError.self) { try CirclePolicy.authorizeAdd(c, actor: memberM, newRole: .member) }
        #expect(throws: VivimError.self) { try CirclePolicy.authorizeAdd(c, actor: ownerM, newRole: .owner) }
        #expect(throws: VivimError.self) { try CirclePolicy.authorizeAdd(circle(isPrivate: false), actor: nil, newRole: .member) }
    }

    @Test func leavingAndRemoving() throws {
        let c = circle()
        let ownerM = membership(owner, .owner, in: c), adminM = membership(admin, .admin, in: c), memberM = membership(member, .member, in: c)
        try CirclePolicy.authorizeRemove(c, actor: memberM, target: memberM)  // leave
        try CirclePolicy.authorizeRemove(c, actor: adminM, target: memberM)
        try CirclePolicy.authorizeRemove(c, actor: ownerM, target: adminM)
        #expect(throws: VivimError.self) { try CirclePolicy.authorizeRemove(c, actor: adminM, target: ownerM) }
        #expect(throws: VivimError.self) { try CirclePolicy.authorizeRemove(c, actor: memberM, target: adminM) }
        #expect(throws: VivimError.conflict("the owner cannot leave their circle; delete it instead")) {
            try CirclePolicy.authorizeRemove(c, actor: ownerM, target: ownerM)
        }
    }

    @Test func changingMembers() throws {
        let c = circle()
        let ownerM = membership(owner, .owner, in: c), adminM = membership(admin, .admin, in: c), memberM = membership(member, .member, in: c)
        try CirclePolicy.authorizeUpdate(c, actor: ownerM, target: memberM, change: MemberChange(role: .admin))
        try CirclePolicy.authorizeUpdate(c, actor: adminM, target: memberM, change: MemberChange(canShare: false))
        #expect(throws: VivimError.self) { try CirclePolicy.authorizeUpdate(c, actor: adminM, target: memberM, change: MemberChange(role: .admin)) }
        #expect(throws: VivimError.self) { try CirclePolicy.authorizeUpdate(c, actor: ownerM, target: ownerM, change: MemberChange(canShare: false)) }
        #expect(throws: VivimError.self) { try CirclePolicy.authorizeUpdate(c, actor: memberM, target: memberM, change: MemberChange(canInvite: true)) }
    }
}

/// Deterministic DIDs for policy tests.
enum SigningIdentityStub {
    static func did(_ n: UInt8) -> DID { try! DID(ed25519PublicKey: [UInt8](repeating: n, count: 32)) }
}

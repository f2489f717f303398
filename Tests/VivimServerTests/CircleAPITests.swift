import Foundation
import Testing
import VivimClient
import VivimCore
import VivimCrypto

enum CircleAPI {
    static func lifecycleRolesAndVisibility(_ kind: StoreKind) async throws {
        try await Harness.with(kind) { harness in
            let owner = try await harness.newUser("owner"), admin = try await harness.newUser("admin")
            let member = try await harness.newUser("member"), outsider = try await harness.newUser("outsider")
            let created = try await owner.client.send(.POST, "/api/v1/circles", json: .object([
                "name": .string("  Research  "), "description": .string("papers"), "defaultPermissions": .object(["view": .bool(true), "copy": .bool(true),
                    "annotate": .bool(false), "remix": .bool(false), "share": .bool(false), "download": .bool(false)])]))
            #expect(created.status == 201)
            let id = try #require(created.data["id"]?.string)
            #expect(created.data["name"]?.string == "Research")
            #expect(created.data["isPrivate"] == .bool(true))
            #expect(created.data["myRole"]?.string == "owner")

            // Private: outsiders cannot tell it exists.
            await expectAPIError("NOT_FOUND") { try await outsider.client.send(.GET, "/api/v1/circles/\(id)") }
            await expectAPIError("NOT_FOUND") { try await outsider.client.send(.GET, "/api/v1/circles/\(id)/members") }
            await expectAPIError("NOT_FOUND") {
                try await outsider.client.send(.POST, "/api/v1/circles/\(id)/members", json: .object(["did": .string(outsider.did.description)]))
            }
            await expectAPIError("NOT_FOUND") { try await outsider.client.send(.GET, "/api/v1/circles/\(CircleID())") }

            try await owner.client.send(.POST, "/api/v1/circles/\(id)/members", json: .object(["did": .string(admin.did.description), "role": .string("admin")]))
            try await admin.client.send(.POST, "/api/v1/circles/\(id)/members", json: .object(["did": .string(member.did.description)]))
            await expectAPIError("FORBIDDEN") {  // admins do not make admins
                try await admin.client.send(.POST, "/api/v1/circles/\(id)/members", json: .object(["did": .string(outsider.did.description), "role": .string("admin")]))
            }
            await expectAPIError("FORBIDDEN") {  // plain members without canInvite do not invite
                try await member.client.send(.POST, "/api/v1/circles/\(id)/members", json: .object(["did": .string(outsider.did.description)]))
            }
            await expectAPIError("CONFLICT") {
                try await owner.client.send(.POST, "/api/v1/circles/\(id)/members", json: .object(["did": .string(member.did.description)]))
            }
            await expectAPIError("NOT_FOUND") {  // unregistered DID
                try await owner.client.send(.POST, "/api/v1/circles/\(id)/members", json: .object(["did": .string(SigningIdentityFactory.did())]))
            }
            try await owner.client.send(.PATCH, "/api/v1/circles/\(id)/members/\(member.did)", json: .object(["canInvite": .bool(true)]))
            try await member.client.send(.POST, "/api/v1/circles/\(id)/members", json: .object(["did": .string(outsider.did.description)]))

            let members = try await member.client.send(.GET, "/api/v1/circles/\(id)/members")
            #expect(members.data.array?.map { $0["role"]?.string ?? "" } == ["owner", "admin", "member", "member"])
            #expect(members.meta?["pagination"]?["totalItems"]?.number == 4)

            // Listings by relation.
            #expect(try await owner.client.send(.GET, "/api/v1/circles?relation=owned").data.array?.count == 1)
            #expect(try await owner.client.send(.GET, "/api/v1/circles?relation=member").data.array?.count == 0)
            let mine = try await member.client.send(.GET, "/api/v1/circles?relation=member").data.array ?? []
            #expect(mine.first?["memberCount"]?.number == 4 && mine.first?["myRole"]?.string == "member")
            await expectAPIError("VALIDATION_ERROR") { try await owner.client.send(.GET, "/api/v1/circles?relation=everyone") }

            // Editing: owner/admin only.
            await expectAPIError("FORBIDDEN") { try await member.client.send(.PATCH, "/api/v1/circles/\(id)", json: .object(["name": .string("x")])) }
            let renamed = try await admin.client.send(.PATCH, "/api/v1/circles/\(id)", json: .object(["name": .string("Reading group"), "description": .null]))
            #expect(renamed.data["name"]?.string == "Reading group" && renamed.data["description"] == nil)

            // Leaving and removal take effect on the next request.
            try await outsider.client.send(.DELETE, "/api/v1/circles/\(id)/members/\(outsider.did)")
            await expectAPIError("NOT_FOUND") { try await outsider.client.send(.GET, "/api/v1/circles/\(id)") }
            await expectAPIError("CONFLICT") { try await owner.client.send(.DELETE, "/api/v1/circles/\(id)/members/\(owner.did)") }
            await expectAPIError("FORBIDDEN") { try await admin.client.send(.DELETE, "/api/v1/circles/\(id)/members/\(owner.did)") }
            try await admin.client.send(.DELETE, "/api/v1/circles/\(id)/members/\(member.did)")
            await expectAPIError("NOT_FOUND") { try await member.client.send(.GET, "/api/v1/circles/\(id)") }

            // Public circles are visible, but their member list is for members.
            try await owner.client.send(.PATCH, "/api/v1/circles/\(id)", json: .object(["isPrivate": .bool(false)]))
            let seen = try await outsider.client.send(.GET, "/api/v1/circles/\(id)").data
            #expect(seen["myRole"] == nil && seen["isPrivate"] == .bool(false))
            await expectAPIError("FORBIDDEN") { try await outsider.client.send(.GET, "/api/v1/circles/\(id)/members") }

            await expectAPIError("FORBIDDEN") { try await admin.client.send(.DELETE, "/api/v1/circles/\(id)") }
            try await owner.client.send(.DELETE, "/api/v1/circles/\(id)")
            await expectAPIError("NOT_FOUND") { try await owner.client.send(.GET, "/api/v1/circles/\(id)") }
            #expect(try await admin.client.send(.GET, "/api/v1/circles").data.array?.isEmpty == true)
        }
    }
}

enum SigningIdentityFactory {
    static func did() -> String { SigningIdentity().did.description }
}

@Suite struct CircleAPISQLiteTests {
    @Test func lifecycleRolesAndVisibility() async throws { try await CircleAPI.lifecycleRolesAndVisibility(.sqlite) }
}

@Suite struct CircleAPIPostgreSQLTests {
    @Test func lifecycleRolesAndVisibility() async throws { try await CircleAPI.lifecycleRolesAndVisibility(.postgresql) }
}

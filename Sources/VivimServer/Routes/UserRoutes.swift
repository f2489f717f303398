import Foundation
import Hummingbird
import VivimCore
import VivimCrypto

struct RotateKeyRequest: Decodable {
    var encryptionKey: RegisterRequest.Key
    var deviceId: String
    var proof: String
}

/// A PATCH of the profile: an absent key leaves the field alone, `null` clears it.
struct UpdateProfileRequest: Decodable {
    var displayName: String??

    enum CodingKeys: String, CodingKey { case displayName }
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        guard container.contains(.displayName) else { throw VivimError.validation("nothing to change: send displayName") }
        displayName = .some(try container.decodeIfPresent(String.self, forKey: .displayName))
    }
}

extension VivimServerApp {
    func addUserRoutes(_ routes: RouteBuilder) {
        let master = services.master, auth = services.auth, clock = services.clock, limit = configuration.bodyLimit

        routes.add(.get, "/api/v1/users/me") { _, context in
            let caller = try context.requireCaller()
            guard let user = try await master.user(caller.did) else { throw VivimError.notFound("user not found") }
            return try context.respond(UserView(user, devices: try await master.devices(of: caller.did), includePrivate: true))
        }

        routes.add(.patch, "/api/v1/users/me") { request, context in
            let caller = try context.requireCaller()
            let body = try await request.decodeJSON(as: UpdateProfileRequest.self, limit: limit)
            try await master.updateDisplayName(of: caller.did, to: try optionalName(body.displayName ?? nil, field: "displayName"), at: clock.now)
            guard let user = try await master.user(caller.did) else { throw VivimError.notFound("user not found") }
            return try context.respond(UserView(user, includePrivate: true))
        }

        routes.add(.delete, "/api/v1/users/me") { _, context in
            let caller = try context.requireCaller()
            try await auth.deleteAccount(caller: caller, clientAddress: context.clientAddress)
            return try context.respond(["deleted": caller.did.description])
        }

        routes.add(.put, "/api/v1/users/me/keys") { request, context in
            let caller = try context.requireCaller()
            let body = try await request.decodeJSON(as: RotateKeyRequest.self, limit: limit)
            let key = try EncryptionKeyView(alg: body.encryptionKey.alg, key: body.encryptionKey.key).parsed()
            let user = try await auth.rotateKey(caller: caller, key: key, keyText: body.encryptionKey.key,
                                                deviceID: try DeviceID(parsing: body.deviceId), proof: body.proof,
                                                clientAddress: context.clientAddress)
            return try context.respond(UserView(user))
        }

        routes.add(.get, "/api/v1/users/me/devices") { _, context in
            let caller = try context.requireCaller()
            return try context.respond(try await master.devices(of: caller.did).map(DeviceView.init))
        }

        routes.add(.delete, "/api/v1/users/me/devices/:deviceId") { _, context in
            let caller = try context.requireCaller()
            let deviceID = try DeviceID(parsing: try context.parameter("deviceId"))
            guard try await master.deleteDevice(deviceID, of: caller.did) else { throw VivimError.notFound("no such device") }
            try await master.revokeSessions(of: deviceID, of: caller.did, at: clock.now)
            return try context.respond(["deleted": deviceID.rawValue])
        }

        routes.add(.get, "/api/v1/users/:did") { _, context in
            _ = try context.requireCaller()
            let did = try DID(parsing: try context.parameter("did"))
            guard let user = try await master.user(did) else { throw VivimError.notFound("user not found") }
            return try context.respond(UserView(user))
        }
    }
}

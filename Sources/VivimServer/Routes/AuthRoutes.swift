import Foundation
import Hummingbird
import VivimCore
import VivimCrypto
import VivimStore

struct RegisterRequest: Decodable {
    struct Key: Decodable { var alg: String; var key: String }
    struct DeviceInfo: Decodable { var deviceId: String; var name: String? }
    var did: String
    var displayName: String?
    var encryptionKey: Key
    var device: DeviceInfo
    var proof: String
}

struct ChallengeRequest: Decodable { var did: String }
struct VerifyRequest: Decodable { var did: String; var challenge: String; var signature: String; var deviceId: String? }

struct EncryptionKeyView: Codable, Equatable { var alg: String; var key: String }
struct DeviceView: Encodable { var deviceId: String; var name: String?; var createdAt: Date; var lastActiveAt: Date }
struct SessionView: Encodable { var id: String; var deviceId: String?; var createdAt: Date; var expiresAt: Date; var current: Bool }
struct UserView: Encodable {
    var did: String
    var displayName: String?
    var encryptionKey: EncryptionKeyView
    var createdAt: Date?
    var devices: [DeviceView]?
}

extension EncryptionKeyView {
    init(_ key: EncryptionKey) { self.init(alg: key.algorithm.rawValue, key: key.base64URL) }

    /// Parses the `{alg, key}` object of registration and key rotation.
    func parsed() throws -> EncryptionKey {
        guard let algorithm = EncryptionKeyAlgorithm(rawValue: alg) else {
            throw VivimError.validation("alg must be X-Wing or ML-KEM-1024", field: "encryptionKey.alg")
        }
        return try EncryptionKey(algorithm: algorithm, base64URL: key)
    }
}

extension DeviceView {
    init(_ device: Device) { self.init(deviceId: device.deviceID.rawValue, name: device.name, createdAt: device.createdAt, lastActiveAt: device.lastActiveAt) }
}

extension UserView {
    init(_ user: User, devices: [Device]? = nil, includePrivate: Bool = false) {
        self.init(did: user.did.description, displayName: user.displayName, encryptionKey: EncryptionKeyView(user.encryptionKey),
                  createdAt: includePrivate ? user.createdAt : nil, devices: devices?.map(DeviceView.init))
    }
}

func optionalName(_ value: String?, field: String) throws -> String? {
    guard let value else { return nil }
    let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
    if trimmed.isEmpty { return nil }
    try InputLimits.checkString(trimmed, field: field, max: InputLimits.maxNameLength)
    return trimmed
}

extension VivimServerApp {
    func addAuthRoutes(_ routes: RouteBuilder) {
        let auth = services.auth, limit = configuration.bodyLimit

        routes.add(.post, "/api/v1/auth/register", authenticated: false) { request, context in
            let body = try await request.decodeJSON(as: RegisterRequest.self, limit: limit)
            let did = try DID(parsing: body.did)
            let key = try EncryptionKeyView(alg: body.encryptionKey.alg, key: body.encryptionKey.key).parsed()
            let registration = AuthService.Registration(
                did: did, displayName: try optionalName(body.displayName, field: "displayName"), encryptionKey: key,
                keyText: body.encryptionKey.key, deviceID: try DeviceID(parsing: body.device.deviceId, field: "device.deviceId"),
                deviceName: try optionalName(body.device.name, field: "device.name"), proof: body.proof)
            let (user, device) = try await auth.register(registration, clientAddress: context.clientAddress)
            return try context.respond(UserView(user, devices: [device], includePrivate: true), status: .created)
        }

        routes.add(.post, "/api/v1/auth/challenge", authenticated: false) { request, context in
            let body = try await request.decodeJSON(as: ChallengeRequest.self, limit: limit)
            let challenge = try await auth.challenge(for: try DID(parsing: body.did))
            struct Out: Encodable { var challenge: String; var expiresIn: Int }
            return try context.respond(Out(challenge: challenge, expiresIn: Int(AuthService.challengeLifetime)))
        }

        routes.add(.post, "/api/v1/auth/verify", authenticated: false) { request, context in
            let body = try await request.decodeJSON(as: VerifyRequest.self, limit: limit)
            let did = try DID(parsing: body.did)
            let deviceID = try body.deviceId.map { try DeviceID(parsing: $0) }
            let (token, session) = try await auth.verify(did: did, challenge: body.challenge, signature: body.signature,
                                                         deviceID: deviceID, clientAddress: context.clientAddress)
            struct Out: Encodable { var token: String; var expiresAt: Date; var did: String; var sessionId: String }
            return try context.respond(Out(token: token, expiresAt: session.expiresAt, did: did.description, sessionId: session.id.rawValue))
        }

        routes.add(.post, "/api/v1/auth/logout") { _, context in
            let caller = try context.requireCaller()
            try await auth.revoke(caller.sessionID, caller: caller, clientAddress: context.clientAddress, logout: true)
            return try context.respond(["revoked": caller.sessionID.rawValue])
        }

        routes.add(.get, "/api/v1/auth/sessions") { _, context in
            let caller = try context.requireCaller()
            let sessions = try await auth.sessions(of: caller.did)
            return try context.respond(sessions.map {
                SessionView(id: $0.id.rawValue, deviceId: $0.deviceID?.rawValue, createdAt: $0.createdAt, expiresAt: $0.expiresAt,
                            current: $0.id == caller.sessionID)
            })
        }

        routes.add(.delete, "/api/v1/auth/sessions/:id") { _, context in
            let caller = try context.requireCaller()
            let id = try SessionID(parsing: try context.parameter("id"))
            try await auth.revoke(id, caller: caller, clientAddress: context.clientAddress)
            return try context.respond(["revoked": id.rawValue])
        }
    }
}

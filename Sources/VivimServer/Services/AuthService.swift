import Foundation
import Logging
import VivimCore
import VivimCrypto
import VivimStore

/// Registration, challenge/response login, sessions and key rotation (SPEC §1).
/// Every outcome that matters for security lands in the audit log.
final class AuthService: Sendable {
    let master: any MasterStore
    let userDatabases: UserDatabaseManager
    let tokens: TokenService
    let audit: AuditTrail
    let clock: any WallClock
    let tokenLifetime: TimeInterval
    static let challengeLifetime: TimeInterval = 300

    init(master: any MasterStore, userDatabases: UserDatabaseManager, tokens: TokenService, audit: AuditTrail,
         clock: any WallClock, tokenLifetime: TimeInterval) {
        self.master = master
        self.userDatabases = userDatabases
        self.tokens = tokens
        self.audit = audit
        self.clock = clock
        self.tokenLifetime = tokenLifetime
    }

    struct Registration {
        var did: DID
        var displayName: String?
        var encryptionKey: EncryptionKey
        var keyText: String
        var deviceID: DeviceID
        var deviceName: String?
        var proof: String
    }

    /// Creates the user (master row, first device) and their own database file.
    func register(_ registration: Registration, clientAddress: String?) async throws -> (User, Device) {
        let statement = SignedStatement.registration(did: registration.did, algorithm: registration.encryptionKey.algorithm,
                                                     key: registration.keyText, deviceID: registration.deviceID)
        guard registration.did.verifies(base64URLSignature: registration.proof, over: statement) else {
            await audit.record(.authFailure, actor: registration.did, success: false, details: ["reason": "bad registration proof"], client: clientAddress)
            throw VivimError(.unauthorized, "proof does not verify against the DID's key", field: "proof")
        }
        let now = clock.now
        let user = User(did: registration.did, displayName: registration.displayName, encryptionKey: registration.encryptionKey,
                        createdAt: now, updatedAt: now)
        let device = Device(did: registration.did, deviceID: registration.deviceID, name: registration.deviceName,
                            createdAt: now, lastActiveAt: now)
        // The file first: a user row never exists without its database. If the row cannot
        // be written, a file this call created is removed again.
        let fileExisted = userDatabases.exists(for: registration.did)
        try userDatabases.create(for: registration.did)
        do {
            try await master.createUser(user, device: device)
        } catch {
            if !fileExisted, (error as? VivimError)?.code != .conflict { try? userDatabases.delete(for: registration.did) }
            if (error as? VivimError)?.code == .conflict { throw VivimError.conflict("this DID is already registered") }
            throw error
        }
        await audit.record(.authRegister, actor: registration.did, details: ["deviceId": registration.deviceID.rawValue], client: clientAddress)
        return (user, device)
    }

    /// Issues a single-use challenge for a registered DID.
    func challenge(for did: DID) async throws -> String {
        guard try await master.user(did) != nil else { throw VivimError.notFound("this DID is not registered") }
        let challenge = SecureRandom.token(byteCount: 32)
        try await master.storeChallenge(challenge, for: did, expiresAt: clock.now.addingTimeInterval(Self.challengeLifetime))
        return challenge
    }

    /// Consumes the challenge, checks the signature, opens a session and returns its token.
    func verify(did: DID, challenge: String, signature: String, deviceID: DeviceID?, clientAddress: String?) async throws -> (token: String, session: Session) {
        let now = clock.now
        // Consumed before the signature is checked: a challenge is good for one attempt.
        guard challenge.utf8.count <= 128, try await master.consumeChallenge(challenge, for: did, now: now) else {
            await audit.record(.authFailure, actor: did, success: false, details: ["reason": "unknown, used or expired challenge"], client: clientAddress)
            throw VivimError(.unauthorized, "challenge is unknown, already used or expired", field: "challenge")
        }
        guard did.verifies(base64URLSignature: signature, over: SignedStatement.login(challenge: challenge, did: did)) else {
            await audit.record(.authFailure, actor: did, success: false, details: ["reason": "bad signature"], client: clientAddress)
            throw VivimError(.unauthorized, "signature does not verify against the DID's key", field: "signature")
        }
        if let deviceID {
            try await master.upsertDevice(Device(did: did, deviceID: deviceID, name: nil, createdAt: now, lastActiveAt: now))
        }
        let session = Session(id: SessionID(), did: did, deviceID: deviceID, createdAt: now,
                              expiresAt: now.addingTimeInterval(tokenLifetime))
        try await master.createSession(session)
        let token = try await tokens.issue(for: session)
        await audit.record(.authLogin, actor: did, subject: session.id.rawValue, details: ["deviceId": deviceID?.rawValue ?? ""], client: clientAddress)
        return (token, session)
    }

    /// Checks a bearer token and its session.
    func authenticate(token: String) async throws -> AuthenticatedCaller {
        let claims = try await tokens.verify(token)
        guard let did = try? DID(parsing: claims.sub.value), let sessionID = try? SessionID(parsing: claims.sid) else {
            throw VivimError.unauthorized("token is not valid")
        }
        let now = clock.now
        guard claims.exp.value > now else { throw VivimError.unauthorized("token has expired") }
        guard let session = try await master.session(sessionID), session.did == did else {
            throw VivimError.unauthorized("session does not exist")
        }
        guard session.revokedAt == nil else { throw VivimError.unauthorized("session has been revoked") }
        guard session.isValid(at: now) else { throw VivimError.unauthorized("session has expired") }
        return AuthenticatedCaller(did: did, sessionID: sessionID, deviceID: session.deviceID)
    }

    func sessions(of did: DID) async throws -> [Session] {
        try await master.activeSessions(of: did, now: clock.now)
    }

    func revoke(_ sessionID: SessionID, caller: AuthenticatedCaller, clientAddress: String?, logout: Bool = false) async throws {
        guard try await master.revokeSession(sessionID, of: caller.did, at: clock.now) else {
            throw VivimError.notFound("no such active session")
        }
        await audit.record(logout ? .authLogout : .sessionRevoked, actor: caller.did, subject: sessionID.rawValue, client: clientAddress)
    }

    /// Replaces the published encryption key; the proof has the registration form.
    func rotateKey(caller: AuthenticatedCaller, key: EncryptionKey, keyText: String, deviceID: DeviceID, proof: String, clientAddress: String?) async throws -> User {
        let statement = SignedStatement.registration(did: caller.did, algorithm: key.algorithm, key: keyText, deviceID: deviceID)
        guard caller.did.verifies(base64URLSignature: proof, over: statement) else {
            await audit.record(.authFailure, actor: caller.did, success: false, details: ["reason": "bad key rotation proof"], client: clientAddress)
            throw VivimError(.unauthorized, "proof does not verify against the DID's key", field: "proof")
        }
        try await master.updateEncryptionKey(of: caller.did, to: key, at: clock.now)
        await audit.record(.keyRotated, actor: caller.did, details: ["algorithm": key.algorithm.rawValue], client: clientAddress)
        guard let user = try await master.user(caller.did) else { throw VivimError.notFound("user not found") }
        return user
    }

    /// Deletes the account: the user's own database file and every master row.
    func deleteAccount(caller: AuthenticatedCaller, clientAddress: String?) async throws {
        try await master.deleteUser(caller.did)
        try userDatabases.delete(for: caller.did)
        await audit.record(.accountDeleted, actor: caller.did, client: clientAddress)
    }
}

import Crypto
import Foundation
import Testing
import VivimClient
import VivimCore
import VivimCrypto
import VivimServer

enum AuthAPI {
    static func registrationLoginAndJWKS(_ kind: StoreKind) async throws {
        try await Harness.with(kind) { harness in
            let alice = try await harness.newUser("alice")
            // The token is an EdDSA JWT that verifies against the published JWK set.
            let parts = alice.token.split(separator: ".").map(String.init)
            #expect(parts.count == 3)
            let header = try JSONDecoder().decode(JSONValue.self, from: Data(Base64URL.decode(parts[0]) ?? []))
            let claims = try JSONDecoder().decode(JSONValue.self, from: Data(Base64URL.decode(parts[1]) ?? []))
            #expect(header["alg"]?.string == "EdDSA")
            #expect(claims["sub"]?.string == alice.did.description)
            // The issuer is the server's own DID: its key is the JWKS key.
            let issuer = try DID(parsing: claims["iss"]?.string ?? "")
            let jwks = try await harness.anonymous.send(.GET, "/.well-known/jwks.json").data
            let key = try #require(jwks["keys"]?.array?.first { $0["kid"] == header["kid"] })
            let publicKey = try Curve25519.Signing.PublicKey(rawRepresentation: Base64URL.decode(key["x"]?.string ?? "") ?? [])
            #expect(publicKey.isValidSignature(Base64URL.decode(parts[2]) ?? [], for: Array("\(parts[0]).\(parts[1])".utf8)))
            #expect(Array(publicKey.rawRepresentation) == issuer.publicKey)

            let me = try await alice.client.send(.GET, "/api/v1/users/me").data
            #expect(me["did"]?.string == alice.did.description)
            #expect(me["devices"]?.array?.first?["deviceId"]?.string == "dev-alice")
            // did:key input is normalized.
            let profile = try await alice.client.send(.GET, "/api/v1/users/\(alice.did.didKey)").data
            #expect(profile["did"]?.string == alice.did.description)
            #expect(profile["encryptionKey"]?["key"]?.string == alice.encryption.base64URL)
            #expect(profile["devices"] == nil)

            await expectAPIError("CONFLICT") {
                try await harness.anonymous.register(identity: alice.identity, encryptionKey: alice.encryption, deviceID: alice.deviceID)
            }
            await expectAPIError("NOT_FOUND") { try await harness.anonymous.login(identity: SigningIdentity()) }
        }
    }

    static func badProofsAndReplayedChallengesAreRefused(_ kind: StoreKind) async throws {
        try await Harness.with(kind) { harness in
            let alice = try await harness.newUser("alice")
            let mallory = SigningIdentity()
            // A proof signed by another key.
            let key = try EncryptionKeyPair.generate().publicKey
            let statement = SignedStatement.registration(did: mallory.did, algorithm: .xWing, key: key.base64URL, deviceID: DeviceID(trusted: "d"))
            let badProof: JSONValue = .object([
                "did": .string(mallory.did.description), "proof": .string(alice.identity.signBase64URL(statement)),
                "encryptionKey": .object(["alg": .string("X-Wing"), "key": .string(key.base64URL)]), "device": .object(["deviceId": .string("d")]),
            ])
            await expectAPIError("UNAUTHORIZED") { try await harness.anonymous.send(.POST, "/api/v1/auth/register", json: badProof) }
            #expect(!FileManager.default.fileExists(atPath: harness.server.app.services.userDatabases.path(for: mallory.did)))

            // A signature by the wrong key, then a replay of a used challenge.
            let challenge = try await harness.anonymous.send(.POST, "/api/v1/auth/challenge", json: .object(["did": .string(alice.did.description)]))
            let text = challenge.data["challenge"]?.string ?? ""
            let wrong = mallory.signBase64URL(SignedStatement.login(challenge: text, did: alice.did))
            await expectAPIError("UNAUTHORIZED") {
                try await harness.anonymous.send(.POST, "/api/v1/auth/verify", json: .object([
                    "did": .string(alice.did.description), "challenge": .string(text), "signature": .string(wrong)]))
            }
            let right = alice.identity.signBase64URL(SignedStatement.login(challenge: text, did: alice.did))
            await expectAPIError("UNAUTHORIZED") {  // burnt by the failed attempt
                try await harness.anonymous.send(.POST, "/api/v1/auth/verify", json: .object([
                    "did": .string(alice.did.description), "challenge": .string(text), "signature": .string(right)]))
            }
            let audit = try await harness.server.app.services.master.auditEntries(after: 0, limit: 100)
            #expect(audit.filter { $0.event.type == .authFailure }.count == 3)
            #expect(audit.contains { $0.event.type == .authRegister } && audit.contains { $0.event.type == .authLogin })
            #expect(try await harness.server.app.services.master.verifyAuditChain() == .valid(entries: audit.count))
        }
    }

    static func revokedSessionsStopWorkingAtOnce(_ kind: StoreKind) async throws {
        try await Harness.with(kind) { harness in
            let alice = try await harness.newUser("alice")
            let (second, _, _) = try await harness.anonymous.login(identity: alice.identity)
            let sessions = try await alice.client.send(.GET, "/api/v1/auth/sessions").data.array ?? []
            #expect(sessions.count == 2)
            let other = try #require(sessions.first { $0["current"] == .bool(false) }?["id"]?.string)
            try await alice.client.send(.GET, "/api/v1/users/me")
            try await second.send(.GET, "/api/v1/users/me")
            try await alice.client.send(.DELETE, "/api/v1/auth/sessions/\(other)")
            await expectAPIError("UNAUTHORIZED") { try await second.send(.GET, "/api/v1/users/me") }
            await expectAPIError("NOT_FOUND") { try await alice.client.send(.DELETE, "/api/v1/auth/sessions/\(other)") }
            // Another user's session cannot be revoked.
            let bob = try await harness.newUser("bob")
            let bobSession = try #require(try await bob.client.send(.GET, "/api/v1/auth/sessions").data.array?.first?["id"]?.string)
            await expectAPIError("NOT_FOUND") { try await alice.client.send(.DELETE, "/api/v1/auth/sessions/\(bobSession)") }
            try await bob.client.send(.GET, "/api/v1/users/me")
            try await alice.client.send(.POST, "/api/v1/auth/logout")
            await expectAPIError("UNAUTHORIZED") { try await alice.client.send(.GET, "/api/v1/users/me") }
        }
    }

    static func tokensExpireOnTheServersClock(_ kind: StoreKind) async throws {
        let clock = ManualClock(Date())
        try await Harness.with(kind, clock: clock, configure: { $0.tokenLifetime = 600 }) { harness in
            let alice = try await harness.newUser("alice")
            try await alice.client.send(.GET, "/api/v1/users/me")
            clock.advance(by: 601)
            await expectAPIError("UNAUTHORIZED") { try await alice.client.send(.GET, "/api/v1/users/me") }
            // Challenges expire after five minutes.
            let challenge = try await harness.anonymous.send(.POST, "/api/v1/auth/challenge", json: .object(["did": .string(alice.did.description)]))
            clock.advance(by: 301)
            let text = challenge.data["challenge"]?.string ?? ""
            await expectAPIError("UNAUTHORIZED") {
                try await harness.anonymous.send(.POST, "/api/v1/auth/verify", json: .object([
                    "did": .string(alice.did.description), "challenge": .string(text),
                    "signature": .string(alice.identity.signBase64URL(SignedStatement.login(challenge: text, did: alice.did)))]))
            }
        }
    }

    static func keyRotationDevicesAndAccountDeletion(_ kind: StoreKind) async throws {
        try await Harness.with(kind) { harness in
            let alice = try await harness.newUser("alice")
            let bob = try await harness.newUser("bob")
            let newKey = try EncryptionKeyPair.generate(.mlKem1024).publicKey
            let proof = alice.identity.signBase64URL(SignedStatement.registration(did: alice.did, algorithm: .mlKem1024, key: newKey.base64URL, deviceID: alice.deviceID))
            let body: JSONValue = .object(["encryptionKey": .object(["alg": .string("ML-KEM-1024"), "key": .string(newKey.base64URL)]),
                                           "deviceId": .string(alice.deviceID.rawValue), "proof": .string(proof)])
            // Bob cannot rotate Alice's key with Alice's proof: the proof names Alice's DID.
            await expectAPIError("UNAUTHORIZED") { try await bob.client.send(.PUT, "/api/v1/users/me/keys", json: body) }
            try await alice.client.send(.PUT, "/api/v1/users/me/keys", json: body)
            let profile = try await bob.client.send(.GET, "/api/v1/users/\(alice.did)").data
            #expect(profile["encryptionKey"]?["alg"]?.string == "ML-KEM-1024")
            #expect(profile["encryptionKey"]?["key"]?.string == newKey.base64URL)

            // Removing a device ends its sessions.
            let (phone, _, _) = try await harness.anonymous.login(identity: alice.identity, deviceID: DeviceID(trusted: "phone"))
            #expect(try await alice.client.send(.GET, "/api/v1/users/me/devices").data.array?.count == 2)
            try await alice.client.send(.DELETE, "/api/v1/users/me/devices/phone")
            await expectAPIError("UNAUTHORIZED") { try await phone.send(.GET, "/api/v1/users/me") }

            let path = harness.server.app.services.userDatabases.path(for: alice.did)
            #expect(FileManager.default.fileExists(atPath: path))
            try await alice.client.send(.DELETE, "/api/v1/users/me")
            #expect(!FileManager.default.fileExists(atPath: path))
            await expectAPIError("UNAUTHORIZED") { try await alice.client.send(.GET, "/api/v1/users/me") }
            await expectAPIError("NOT_FOUND") { try await bob.client.send(.GET, "/api/v1/users/\(alice.did)") }
        }
    }
}

@Suite struct AuthAPISQLiteTests {
    @Test func registrationLoginAndJWKS() async throws { try await AuthAPI.registrationLoginAndJWKS(.sqlite) }
    @Test func badProofsAndReplayedChallengesAreRefused() async throws { try await AuthAPI.badProofsAndReplayedChallengesAreRefused(.sqlite) }
    @Test func revokedSessionsStopWorkingAtOnce() async throws { try await AuthAPI.revokedSessionsStopWorkingAtOnce(.sqlite) }
    @Test func tokensExpireOnTheServersClock() async throws { try await AuthAPI.tokensExpireOnTheServersClock(.sqlite) }
    @Test func keyRotationDevicesAndAccountDeletion() async throws { try await AuthAPI.keyRotationDevicesAndAccountDeletion(.sqlite) }
}

@Suite struct AuthAPIPostgreSQLTests {
    @Test func registrationLoginAndJWKS() async throws { try await AuthAPI.registrationLoginAndJWKS(.postgresql) }
    @Test func badProofsAndReplayedChallengesAreRefused() async throws { try await AuthAPI.badProofsAndReplayedChallengesAreRefused(.postgresql) }
    @Test func revokedSessionsStopWorkingAtOnce() async throws { try await AuthAPI.revokedSessionsStopWorkingAtOnce(.postgresql) }
    @Test func tokensExpireOnTheServersClock() async throws { try await AuthAPI.tokensExpireOnTheServersClock(.postgresql) }
    @Test func keyRotationDevicesAndAccountDeletion() async throws { try await AuthAPI.keyRotationDevicesAndAccountDeletion(.postgresql) }
}

import Crypto
import Foundation
import JWTKit
import VivimCore
import VivimCrypto
import VivimStore

/// The claims of a VIVIM access token (SPEC §1).
struct AccessTokenClaims: JWTPayload {
    var iss: IssuerClaim
    var sub: SubjectClaim
    var sid: String
    var iat: IssuedAtClaim
    var exp: ExpirationClaim

    /// Expiry is checked by `TokenService` against the server's clock, so tests can drive it.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Signs and verifies EdDSA (Ed25519) JWTs with the server key kept in the master store,
/// so every instance on one master database issues and accepts the same tokens.
final class TokenService: Sendable {
    let keys: JWTKeyCollection
    let kid: String
    let publicKey: [UInt8]
    let issuer: String

    /// - Parameter issuer: `iss` of issued tokens; nil uses the server's DID.
    init(signingKey: ServerSigningKey, issuer: String?) async throws {
        let privateKey = try Curve25519.Signing.PrivateKey(rawRepresentation: signingKey.seed)
        keys = JWTKeyCollection()
        await keys.add(eddsa: EdDSA.PrivateKey(backing: privateKey), kid: JWKIdentifier(string: signingKey.kid))
        kid = signingKey.kid
        publicKey = Array(privateKey.publicKey.rawRepresentation)
        self.issuer = issuer ?? SigningIdentity(privateKey: privateKey).did.description
    }

    /// A fresh random server key (used only if the master store has none yet).
    static func candidateKey(at date: Date) -> ServerSigningKey {
        let key = Curve25519.Signing.PrivateKey()
        let kid = String(Hashing.sha256Hex(key.publicKey.rawRepresentation).prefix(16))
        return ServerSigningKey(kid: kid, seed: Array(key.rawRepresentation), createdAt: date)
    }

    func issue(for session: Session) async throws -> String {
        let claims = AccessTokenClaims(
            iss: .init(value: issuer), sub: .init(value: session.did.description), sid: session.id.rawValue,
            iat: .init(value: session.createdAt), exp: .init(value: session.expiresAt))
        return try await keys.sign(claims, kid: JWKIdentifier(string: kid))
    }

    /// Verifies signature and issuer; returns the claims. Expiry is the caller's check.
    func verify(_ token: String) async throws(VivimError) -> AccessTokenClaims {
        let claims: AccessTokenClaims
        do {
            claims = try await keys.verify(token, as: AccessTokenClaims.self)
        } catch {
            throw .unauthorized("token is not valid")
        }
        guard claims.iss.value == issuer else { throw .unauthorized("token was issued by another server") }
        return claims
    }

    /// The JWK set of `/.well-known/jwks.json` (RFC 7517, OKP keys per RFC 8037).
    var jwks: JWKSet {
        JWKSet(keys: [JWKEntry(kty: "OKP", crv: "Ed25519", x: Base64URL.encode(publicKey), kid: kid, alg: "EdDSA", use: "sig")])
    }
}

struct JWKSet: Codable, Sendable {
    var keys: [JWKEntry]
}

struct JWKEntry: Codable, Sendable {
    var kty: String
    var crv: String
    var x: String
    var kid: String
    var alg: String
    var use: String
}

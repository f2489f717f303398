import Foundation
import VivimCore
import VivimCrypto

/// The user's keys and session on their own device, under `--home` (default `~/.vivim`).
/// Files are written with mode 0600 in a 0700 directory; the secret keys never leave it.
public struct KeyStore: Sendable {
    public let home: String

    public init(home: String) {
        self.home = (home as NSString).expandingTildeInPath
    }

    struct IdentityFile: Codable {
        var did: String
        var signingSeed: String
        var encryptionAlg: String
        var encryptionSecret: String
        var deviceId: String
    }

    struct SessionFile: Codable {
        var server: String
        var token: String
        var expiresAt: String
    }

    public struct LocalIdentity: Sendable {
        public var signing: SigningIdentity
        public var encryption: EncryptionKeyPair
        public var deviceID: DeviceID
    }

    var identityPath: String { home + "/identity.json" }
    var sessionPath: String { home + "/session.json" }

    public var hasIdentity: Bool { FileManager.default.fileExists(atPath: identityPath) }

    /// Creates and stores a new identity; refuses to overwrite one unless `replace`.
    public func create(algorithm: EncryptionKeyAlgorithm, deviceID: DeviceID, replace: Bool = false) throws -> LocalIdentity {
        if hasIdentity && !replace { throw VivimError.conflict("an identity already exists in \(home); pass --force to replace it") }
        let identity = LocalIdentity(signing: SigningIdentity(), encryption: try EncryptionKeyPair.generate(algorithm), deviceID: deviceID)
        let file = IdentityFile(did: identity.signing.did.description, signingSeed: Base64URL.encode(identity.signing.seed),
                                encryptionAlg: algorithm.rawValue, encryptionSecret: Base64URL.encode(identity.encryption.secretRepresentation),
                                deviceId: deviceID.rawValue)
        try write(file, to: identityPath)
        return identity
    }

    public func load() throws -> LocalIdentity {
        guard let data = FileManager.default.contents(atPath: identityPath) else {
            throw VivimError.notFound("no identity in \(home); run `vivim identity create`")
        }
        let file = try JSONDecoder().decode(IdentityFile.self, from: data)
        guard let seed = Base64URL.decode(file.signingSeed), let secret = Base64URL.decode(file.encryptionSecret),
              let algorithm = EncryptionKeyAlgorithm(rawValue: file.encryptionAlg) else {
            throw VivimError.validation("identity file is damaged")
        }
        return LocalIdentity(signing: try SigningIdentity(seed: seed),
                             encryption: try EncryptionKeyPair(algorithm: algorithm, secretRepresentation: secret),
                             deviceID: try DeviceID(parsing: file.deviceId))
    }

    public func saveSession(server: String, token: String, expiresAt: String) throws {
        try write(SessionFile(server: server, token: token, expiresAt: expiresAt), to: sessionPath)
    }

    /// The stored token for `server`, if any.
    public func token(for server: String) -> String? {
        guard let data = FileManager.default.contents(atPath: sessionPath),
              let file = try? JSONDecoder().decode(SessionFile.self, from: data), file.server == server else { return nil }
        return file.token
    }

    /// Keeps a zero-knowledge link's content key (returned once by publish) on this device only.
    public func saveLinkKey(_ key: String, intentID: String) throws {
        var keys = linkKeys()
        keys[intentID] = key
        try write(keys, to: (home as NSString).appendingPathComponent("link-keys.json"))
    }

    public func linkKey(intentID: String) -> String? { linkKeys()[intentID] }

    private func linkKeys() -> [String: String] {
        guard let data = FileManager.default.contents(atPath: (home as NSString).appendingPathComponent("link-keys.json")) else { return [:] }
        return (try? JSONDecoder().decode([String: String].self, from: data)) ?? [:]
    }

    func write<T: Encodable>(_ value: T, to path: String) throws {
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(value)
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw VivimError(.internalError, "cannot write \(temporary)")
        }
        _ = rename(temporary, path)
    }
}

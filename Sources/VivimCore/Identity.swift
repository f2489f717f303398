import Foundation

/// The key-encapsulation suites a user may publish for receiving content keys (SPEC §1, §7.4).
public enum EncryptionKeyAlgorithm: String, Sendable, Codable, CaseIterable {
    case xWing = "X-Wing"
    case mlKem1024 = "ML-KEM-1024"
}

/// A user's published encryption public key, raw bytes as the suite defines them.
public struct EncryptionKey: Sendable, Equatable, Codable {
    public var algorithm: EncryptionKeyAlgorithm
    public var key: [UInt8]
    public init(algorithm: EncryptionKeyAlgorithm, key: [UInt8]) {
        self.algorithm = algorithm
        self.key = key
    }
}

/// A device id chosen by the client: 1–64 characters of `[A-Za-z0-9._-]`.
public struct DeviceID: Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(parsing text: String, field: String = "deviceId") throws(VivimError) {
        let allowed = text.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == 0x2e || byte == 0x5f || byte == 0x2d
        }
        guard (1...64).contains(text.utf8.count), allowed else {
            throw .validation("deviceId must be 1–64 characters of A–Z, a–z, 0–9, '.', '_', '-'", field: field)
        }
        rawValue = text
    }
    public init(trusted rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
    public init(from decoder: any Decoder) throws {
        self = try DeviceID(parsing: try decoder.singleValueContainer().decode(String.self))
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// A registered user as the master store keeps it.
public struct User: Sendable, Equatable {
    public var did: DID
    public var displayName: String?
    public var encryptionKey: EncryptionKey
    public var createdAt: Date
    public var updatedAt: Date

    public init(did: DID, displayName: String?, encryptionKey: EncryptionKey, createdAt: Date, updatedAt: Date) {
        self.did = did
        self.displayName = displayName
        self.encryptionKey = encryptionKey
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

public struct Device: Sendable, Equatable {
    public var did: DID
    public var deviceID: DeviceID
    public var name: String?
    public var createdAt: Date
    public var lastActiveAt: Date

    public init(did: DID, deviceID: DeviceID, name: String?, createdAt: Date, lastActiveAt: Date) {
        self.did = did
        self.deviceID = deviceID
        self.name = name
        self.createdAt = createdAt
        self.lastActiveAt = lastActiveAt
    }
}

/// A login session. A token names its session (`sid`); a revoked or expired session's
/// tokens are refused on the next request.
public struct Session: Sendable, Equatable {
    public var id: SessionID
    public var did: DID
    public var deviceID: DeviceID?
    public var createdAt: Date
    public var expiresAt: Date
    public var revokedAt: Date?

    public init(id: SessionID, did: DID, deviceID: DeviceID?, createdAt: Date, expiresAt: Date, revokedAt: Date? = nil) {
        self.id = id
        self.did = did
        self.deviceID = deviceID
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
    }

    public func isValid(at now: Date) -> Bool { revokedAt == nil && now < expiresAt }
}

/// The byte strings a client signs (SPEC §1). One place, so client and server agree.
public enum SignedStatement {
    public static func registration(did: DID, algorithm: EncryptionKeyAlgorithm, key: String, deviceID: DeviceID) -> [UInt8] {
        Array("vivim/register/v1|\(did)|\(algorithm.rawValue)|\(key)|\(deviceID)".utf8)
    }
    public static func login(challenge: String, did: DID) -> [UInt8] {
        Array("vivim/auth/v1|\(challenge)|\(did)".utf8)
    }
}

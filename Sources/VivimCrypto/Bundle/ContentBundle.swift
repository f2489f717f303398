import Crypto
import Foundation
import VivimCore

/// The publishable, encrypted form of a share (SPEC §7.2). Binary fields are base64url without
/// padding in JSON; field names are the spec's. `epochCapsules` is this format's addition for
/// circle epoch keys (SPEC §7.4) and is omitted when empty. See docs/bundle-format.md.
public struct ContentBundle: Sendable, Equatable, Codable {
    public static let currentVersion = 1

    public var version: Int
    /// Hex SHA-256 of `ciphertext`.
    public var contentId: String
    public var intentId: String
    public var ownerDid: DID
    /// RFC 3339 UTC, kept as the exact text that was signed.
    public var createdAt: String
    /// Always `AES-256-GCM`.
    public var algorithm: String
    public var nonce: [UInt8]
    /// AES-256-GCM ciphertext with the 16-byte tag appended.
    public var ciphertext: [UInt8]
    public var keyCapsules: [KeyCapsule]
    public var epochCapsules: [EpochCapsule]
    public var metadata: BundleMetadata
    public var discoveryMetadata: DiscoveryMetadata
    /// Ed25519 over ``signatureInput``: by the owner's DID key, or by the delegate key of
    /// `delegation` when the owner's home server sealed the bundle.
    public var signature: [UInt8]
    /// The owner's authorization of the key that made `signature`; absent when the owner signed.
    public var delegation: PublishingDelegation?

    public init(
        version: Int = ContentBundle.currentVersion, contentId: String, intentId: String, ownerDid: DID,
        createdAt: String, algorithm: String = ContentCipher.algorithm, nonce: [UInt8], ciphertext: [UInt8],
        keyCapsules: [KeyCapsule], epochCapsules: [EpochCapsule] = [], metadata: BundleMetadata,
        discoveryMetadata: DiscoveryMetadata, signature: [UInt8], delegation: PublishingDelegation? = nil
    ) {
        self.version = version
        self.contentId = contentId
        self.intentId = intentId
        self.ownerDid = ownerDid
        self.createdAt = createdAt
        self.algorithm = algorithm
        self.nonce = nonce
        self.ciphertext = ciphertext
        self.keyCapsules = keyCapsules
        self.epochCapsules = epochCapsules
        self.metadata = metadata
        self.discoveryMetadata = discoveryMetadata
        self.signature = signature
        self.delegation = delegation
    }

    /// The UTF-8 of `vivim/bundle/v1|<contentId>|<intentId>|<ownerDid>|<createdAt>`.
    public var signatureInput: [UInt8] {
        BundleLabels.signatureInput(contentId: contentId, intentId: intentId, ownerDid: ownerDid, createdAt: createdAt)
    }

    /// No capsules of either kind: the content key is published with the record (public shares)
    /// or carried in a zero-knowledge link's URL fragment.
    public var isCapsuleless: Bool { keyCapsules.isEmpty && epochCapsules.isEmpty }

    /// `createdAt` as a date (nil if it is not RFC 3339 UTC).
    public var createdDate: Date? { BundleTimestamp.parse(createdAt) }

    // MARK: JSON

    /// The bundle's JSON (sorted keys, so the same bundle always serializes to the same bytes).
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Parses a bundle from outside. Structure only: ``BundleOpener`` checks the cryptography.
    public init(jsonData data: Data) throws(VivimError) {
        do {
            self = try JSONDecoder().decode(ContentBundle.self, from: data)
        } catch let error as VivimError {
            throw error
        } catch {
            throw .validation("not a valid bundle: \(error)", field: "bundle")
        }
    }

    enum CodingKeys: String, CodingKey {
        case version, contentId, intentId, ownerDid, createdAt, algorithm, nonce, ciphertext, keyCapsules,
            epochCapsules, metadata, discoveryMetadata, signature, delegation
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        version = try container.decode(Int.self, forKey: .version)
        contentId = try container.decode(String.self, forKey: .contentId)
        intentId = try container.decode(String.self, forKey: .intentId)
        ownerDid = try container.decodeCanonicalDID(forKey: .ownerDid)
        createdAt = try container.decode(String.self, forKey: .createdAt)
        algorithm = try container.decode(String.self, forKey: .algorithm)
        nonce = try container.decodeBase64URL(forKey: .nonce)
        ciphertext = try container.decodeBase64URL(forKey: .ciphertext)
        keyCapsules = try container.decode([KeyCapsule].self, forKey: .keyCapsules)
        epochCapsules = try container.decodeIfPresent([EpochCapsule].self, forKey: .epochCapsules) ?? []
        metadata = try container.decode(BundleMetadata.self, forKey: .metadata)
        discoveryMetadata = try container.decode(DiscoveryMetadata.self, forKey: .discoveryMetadata)
        signature = try container.decodeBase64URL(forKey: .signature)
        delegation = try container.decodeIfPresent(PublishingDelegation.self, forKey: .delegation)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(version, forKey: .version)
        try container.encode(contentId, forKey: .contentId)
        try container.encode(intentId, forKey: .intentId)
        try container.encode(ownerDid, forKey: .ownerDid)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(algorithm, forKey: .algorithm)
        try container.encodeBase64URL(nonce, forKey: .nonce)
        try container.encodeBase64URL(ciphertext, forKey: .ciphertext)
        try container.encode(keyCapsules, forKey: .keyCapsules)
        if !epochCapsules.isEmpty { try container.encode(epochCapsules, forKey: .epochCapsules) }
        try container.encode(metadata, forKey: .metadata)
        try container.encode(discoveryMetadata, forKey: .discoveryMetadata)
        try container.encodeBase64URL(signature, forKey: .signature)
        try container.encodeIfPresent(delegation, forKey: .delegation)
    }
}

/// The bundle's `metadata`. `contentHash` and `size` are checked against the plaintext when a
/// bundle is opened; `contentType` and `transformations` are descriptive and not signed.
public struct BundleMetadata: Sendable, Equatable, Codable {
    /// Hex SHA-256 of the plaintext (deduplication).
    public var contentHash: String
    /// Plaintext length in bytes.
    public var size: Int
    public var contentType: String
    public var transformations: [String]

    public init(contentHash: String, size: Int, contentType: String, transformations: [String]) {
        self.contentHash = contentHash
        self.size = size
        self.contentType = contentType
        self.transformations = transformations
    }
}

/// The bundle's `discoveryMetadata`: what the network may index. Descriptive, not signed.
public struct DiscoveryMetadata: Sendable, Equatable, Codable {
    public var contentType: String
    public var title: String?
    public var tags: [String]
    public var createdAt: String
    public var authorDid: DID

    public init(contentType: String, title: String?, tags: [String], createdAt: String, authorDid: DID) {
        self.contentType = contentType
        self.title = title
        self.tags = tags
        self.createdAt = createdAt
        self.authorDid = authorDid
    }
}

/// RFC 3339 UTC timestamps as bundles write them: `2026-11-26T21:04:56Z` (whole seconds, `Z`).
public enum BundleTimestamp {
    public static func format(_ date: Date) -> String {
        Date.ISO8601FormatStyle(includingFractionalSeconds: false, timeZone: .gmt).format(date)
    }

    /// Accepts RFC 3339 in UTC (`Z`), with or without fractional seconds.
    public static func parse(_ text: String) -> Date? {
        guard text.hasSuffix("Z") else { return nil }
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: false, timeZone: .gmt).parse(text) {
            return date
        }
        return try? Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt).parse(text)
    }
}

import Foundation
import VivimCore
import VivimStore

/// What distribution is asked to do for one bundle (SPEC §7.5): the intent's audience
/// chooses the mix of strategies.
public struct DistributionPlan: Sendable, Equatable {
    public var contentId: String
    public var contentType: ContentType
    public var audience: AudienceType
    /// `user:<did>` and `circle:<id>` topics to notify (PubSub), with discovery metadata.
    public var topics: [String]
    public var replicationFactor: Int

    public init(contentId: String, contentType: ContentType, audience: AudienceType, topics: [String], replicationFactor: Int = 3) {
        self.contentId = contentId
        self.contentType = contentType
        self.audience = audience
        self.topics = topics
        self.replicationFactor = replicationFactor
    }
}

/// Where a bundle ended up.
public struct DistributionReceipt: Sendable, Equatable, Codable {
    public var providers: [String]
    public var replicas: Int
    public var notifiedTopics: [String]

    public init(providers: [String], replicas: Int, notifiedTopics: [String]) {
        self.providers = providers
        self.replicas = replicas
        self.notifiedTopics = notifiedTopics
    }
}

/// A failure worth retrying (network errors, unavailable nodes, timeouts; SPEC §7.1).
public struct TransientDistributionError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Puts published bundles where recipients can fetch them, and takes them back on revocation
/// or expiry. The P2P node implements it (provide in the DHT, replicate, notify over PubSub);
/// `LocalDistributor` serves from this server's content store.
public protocol Distributor: Sendable {
    func distribute(_ bundle: Data, plan: DistributionPlan) async throws -> DistributionReceipt
    /// Best effort and idempotent: withdrawing what is not there succeeds.
    func withdraw(contentId: String) async throws
    /// The bundle's bytes, wherever the distributor keeps them; nil if it has none.
    func fetch(contentId: String) async throws -> Data?
}

/// Distribution to this server's own content store: the server is the one provider and the
/// content API serves the bundle. Real storage, used until (and beside) the P2P node.
public struct LocalDistributor: Distributor {
    public let store: BundleStore
    public let providerName: String

    public init(store: BundleStore, providerName: String = "local") {
        self.store = store
        self.providerName = providerName
    }

    public func distribute(_ bundle: Data, plan: DistributionPlan) async throws -> DistributionReceipt {
        try store.put(plan.contentId, bytes: bundle)
        return DistributionReceipt(providers: [providerName], replicas: 1, notifiedTopics: [])
    }

    public func withdraw(contentId: String) async throws {
        try store.delete(contentId)
    }

    public func fetch(contentId: String) async throws -> Data? {
        try store.get(contentId)
    }
}

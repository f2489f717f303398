import Foundation
import Logging
import VivimCore
import VivimCrypto
import VivimNetwork
import VivimPipeline
import VivimStore

/// What a recipient's node receives on `user:<did>` / `circle:<id>` when a bundle is published
/// for them. The gossip message carrying it is signed by the server's node (libp2p StrictSign),
/// so its author is the provider to fetch from. Title and tags travel only for PUBLIC shares:
/// anyone may subscribe to a topic, so private shares announce no more than their bundle does.
public struct ContentNotification: Codable, Sendable, Equatable {
    public struct DiscoveryMetadata: Codable, Sendable, Equatable {
        public var audience: String
        public var size: Int
        public var publishedAt: Date?
        public var title: String?
        public var tags: [String]?
    }
    /// `content.published` or `content.revoked`.
    public var type: String
    public var contentId: String
    public var intentId: String?
    public var ownerDid: String?
    public var contentType: String
    /// The bundle's SHA-256 multihash (base58), its DHT provider key.
    public var bundleHash: String?
    /// The peer id of the server's node.
    public var provider: String
    public var discoveryMetadata: DiscoveryMetadata?
}

/// Distribution through the server's P2P node (SPEC §7.5): the bundle stays in the server's
/// content store (the content API serves from it) and is published by the node — provided in the
/// DHT under its multihash and a signed record, replicated to the plan's factor when peers exist,
/// and announced on the audience's topics. Network failures and timeouts are
/// ``TransientDistributionError``s, so the pipeline retries them with backoff. Without any peer
/// publishing succeeds with this node as the one provider.
public struct NetworkDistributor: Distributor {
    public let store: BundleStore
    public let network: ServerNetwork
    let master: any MasterStore
    let logger: Logger

    public init(store: BundleStore, network: ServerNetwork, master: any MasterStore, logger: Logger = Logger(label: "vivim.distributor")) {
        self.store = store
        self.network = network
        self.master = master
        self.logger = logger
    }

    static let bundleContentType = "application/vivim-bundle+json"

    public func distribute(_ bundle: Data, plan: DistributionPlan) async throws -> DistributionReceipt {
        try store.put(plan.contentId, bytes: bundle)
        let bytes = [UInt8](bundle)
        let hash = ContentHash(of: bytes)
        let node = network.node
        let topics = plan.topics.filter(Topic.isValid)
        for dropped in plan.topics where !Topic.isValid(dropped) {
            logger.warning("topic name not valid on the network; not notified", metadata: ["topic": "\(dropped)"])
        }
        let record = try? await master.contentRecord(contentId: plan.contentId)
        let notice = ContentNotification(
            type: "content.published", contentId: plan.contentId, intentId: record?.intentID.rawValue, ownerDid: record?.ownerDid.description,
            contentType: plan.contentType.rawValue, bundleHash: hash.description, provider: node.peerID.description,
            discoveryMetadata: .init(audience: plan.audience.rawValue, size: bytes.count, publishedAt: record?.createdAt,
                                     title: plan.audience == .public ? record?.title : nil,
                                     tags: plan.audience == .public ? record?.tags : nil))
        let announcement = [UInt8](try APIJSON.encoder.encode(notice))
        await network.events.remember(hash, contentId: plan.contentId)
        do {
            _ = try await network.bounded("publish") {
                try await node.publish(contentId: plan.contentId, bytes: bytes, contentType: Self.bundleContentType,
                                       replicationFactor: plan.replicationFactor, topics: topics, announcement: announcement)
            }
        } catch StorageService.Error.revoked {
            throw VivimError.conflict("this bundle was revoked on the network and cannot be published again")
        } catch {
            throw TransientDistributionError("network publish failed: \(error)")
        }
        let replicas = await confirmedReplicas(of: hash, factor: plan.replicationFactor)
        return DistributionReceipt(providers: [node.peerID.description] + replicas.map(\.description).sorted(),
                                   replicas: 1 + replicas.count, notifiedTopics: topics)
    }

    /// Replica holders once replication settled, waiting at most `replicationWait` (no wait without peers).
    private func confirmedReplicas(of hash: ContentHash, factor: Int) async -> Set<PeerID> {
        let node = network.node
        guard factor > 0, await node.connections.connectedPeers > 0 else { return [] }
        let deadline = ContinuousClock.now + network.settings.replicationWait
        while true {
            let entry = await node.storage.entry(hash)
            let replicas = entry?.replicas ?? []
            // Settled: enough replicas, or every peer asked has answered (targets are looked up
            // first, so an entry with nobody asked yet is still on its way).
            let answered = entry.map { $0.pending.isEmpty && !($0.replicas.isEmpty && $0.refused.isEmpty) } ?? true
            if replicas.count >= factor || answered || ContinuousClock.now >= deadline { return replicas }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    public func withdraw(contentId: String) async throws {
        let node = network.node
        if let bytes = try store.get(contentId) {
            await node.revoke(ContentHash(of: [UInt8](bytes)))
        } else {
            try? await node.revoke(contentId: contentId)
        }
        await notifyRevoked(contentId)
        _ = try store.delete(contentId)
    }

    /// Best effort: tells the audience's topics that the content is gone.
    private func notifyRevoked(_ contentId: String) async {
        guard let record = try? await master.contentRecord(contentId: contentId),
              let intent = try? await master.intent(record.intentID) else { return }
        let topics = (intent.spec.audience.userDIDs.map { Topic.user($0.description) }
            + intent.spec.audience.circleIDs.map { Topic.circle($0.description) }).filter(Topic.isValid)
        guard !topics.isEmpty else { return }
        let notice = ContentNotification(type: "content.revoked", contentId: contentId, intentId: record.intentID.rawValue,
                                         ownerDid: record.ownerDid.description, contentType: record.contentType.rawValue, bundleHash: nil,
                                         provider: network.node.peerID.description, discoveryMetadata: nil)
        guard let data = try? APIJSON.encoder.encode(notice) else { return }
        for topic in topics {
            do { try await network.node.publish(topic: topic, [UInt8](data)) } catch {
                logger.notice("revocation notice not sent", metadata: ["topic": "\(topic)", "error": "\(error)"])
            }
        }
    }

    /// The local bundle, else one fetched from the network and checked; nil when it cannot be had now.
    public func fetch(contentId: String) async throws -> Data? {
        if let local = try store.get(contentId) { return local }
        guard let record = try await master.contentRecord(contentId: contentId), record.status == .active else { return nil }
        do {
            return try await fetchFromNetwork(record)
        } catch {
            logger.notice("network fetch failed", metadata: ["content": "\(contentId)", "error": "\(error)"])
            return nil
        }
    }

    /// Fetches the bundle of `record` from a provider (hash-verified by the node against the signed
    /// DHT record), checks it is the bundle the record names (content id, owner, signature chain),
    /// and keeps it in the content store.
    func fetchFromNetwork(_ record: VivimStore.ContentRecord) async throws -> Data {
        let node = network.node, contentId = record.contentId
        let bytes = try await network.bounded("fetch") { try await node.fetch(contentId: contentId) }
        let data = Data(bytes)
        let bundle = try ContentBundle(jsonData: data)
        guard bundle.contentId == contentId, bundle.ownerDid == record.ownerDid else {
            throw VivimError(.notFound, "the network returned a different bundle for this content id")
        }
        try BundleOpener.verify(bundle)
        try store.put(contentId, bytes: data)
        return data
    }
}

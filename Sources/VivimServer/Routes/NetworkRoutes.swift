import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import VivimCore
import VivimNetwork
import VivimStore

/// `GET /api/v1/network/status` (SPEC §8.9, §8.7's monitor), plus who this node is.
struct NetworkStatusView: Encodable {
    var status: VivimNode.Status.Health
    var enabled: Bool
    var peerId: String?
    var nodeType: String?
    var listenAddresses: [String]
    var nodeCount: Int
    var activeConnections: Int
    var contentCount: Int
    var latency: Latency
    var errorRate: Double

    struct Latency: Encodable { var avg: Double, p50: Double, p99: Double }

    init(status: VivimNode.Status.Health, enabled: Bool, peerId: String?, nodeType: String?, listenAddresses: [String], nodeCount: Int,
         activeConnections: Int, contentCount: Int, latency: Latency, errorRate: Double) {
        (self.status, self.enabled, self.peerId, self.nodeType, self.listenAddresses) = (status, enabled, peerId, nodeType, listenAddresses)
        (self.nodeCount, self.activeConnections, self.contentCount, self.latency, self.errorRate) = (nodeCount, activeConnections, contentCount, latency, errorRate)
    }

    /// The status of a running node.
    init(_ status: VivimNode.Status, node: VivimNode, settings: ServerConfiguration.NodeSettings) async {
        self.init(status: status.status, enabled: true, peerId: node.peerID.description, nodeType: settings.nodeType.rawValue,
                  listenAddresses: await node.listenAddresses.map(\.description), nodeCount: status.nodeCount,
                  activeConnections: status.activeConnections, contentCount: status.contentCount,
                  latency: Latency(avg: status.latency.avg, p50: status.latency.p50, p99: status.latency.p99), errorRate: status.errorRate)
    }
}

/// `GET /api/v1/network/content/:contentId/providers`.
struct ProvidersView: Encodable {
    struct Provider: Encodable {
        var peerId: String
        var addresses: [String]
        /// This server's own node.
        var local: Bool
    }
    var contentId: String
    var providers: [Provider]
    var replicaCount: Int
    var availability: String
}

extension VivimServerApp {
    func addNetworkRoutes(_ routes: RouteBuilder) {
        let services = self.services
        let network = services.network

        // Public: what a monitor or a peer operator needs; no user data.
        routes.add(.get, "/api/v1/network/status", authenticated: false) { _, context in
            guard let network else {
                return try context.respond(NetworkStatusView(
                    status: .unhealthy, enabled: false, peerId: nil, nodeType: nil, listenAddresses: [], nodeCount: 0,
                    activeConnections: 0, contentCount: services.bundles.allContentIDs().count,
                    latency: .init(avg: 0, p50: 0, p99: 0), errorRate: 0))
            }
            return try context.respond(await NetworkStatusView(await network.node.status(), node: network.node, settings: network.settings))
        }

        // Who holds a bundle is as private as the content: only those who may see it are told.
        routes.add(.get, "/api/v1/network/content/:contentId/providers", access: .optional, rateLimit: .content) { _, context in
            let record = try await NetworkAccess.visibleRecord(try context.parameter("contentId"), caller: context.caller?.did, services: services)
            return try context.respond(await NetworkAccess.providers(of: record, services: services))
        }

        routes.add(.post, "/api/v1/network/content/:contentId/request", rateLimit: .content) { _, context in
            let caller = try context.requireCaller()
            let record = try await NetworkAccess.visibleRecord(try context.parameter("contentId"), caller: caller.did, services: services)
            guard record.status == .active else {
                throw VivimError(.conflict, "content is \(record.status.rawValue) and cannot be fetched", field: "contentId",
                                 details: ["status": record.status.rawValue])
            }
            let local = services.bundles.contains(record.contentId)
            guard let network else {
                guard local else { throw VivimError(.serviceUnavailable, "this server runs no P2P node; the bundle is not here") }
                let view = ContentRequestTracker.View(requestId: "req_local", contentId: record.contentId, status: .complete, estimatedTime: nil,
                                                      error: nil, createdAt: Date(), completedAt: Date())
                return try context.respond(view)
            }
            let distributor = NetworkDistributor(store: services.bundles, network: network, master: services.master)
            // A rough estimate: a lookup plus the transfer at ~10 MB/s on a LAN.
            let estimate = 0.5 + Double(record.bundleSize) / 10_000_000
            let view = await network.requests.submit(contentId: record.contentId, requester: caller.did, alreadyLocal: local,
                                                     estimatedSeconds: estimate) {
                do {
                    _ = try await distributor.fetchFromNetwork(record)
                    return nil
                } catch {
                    return "\(error)"
                }
            }
            return try context.respond(view, status: view.status == .complete ? .ok : .accepted)
        }

        routes.add(.get, "/api/v1/network/requests/:requestId") { _, context in
            let caller = try context.requireCaller()
            let id = try context.parameter("requestId")
            guard id.utf8.count <= 64, id.hasPrefix("req_") else { throw VivimError.validation("unknown request id format", field: "requestId") }
            guard let network, let view = await network.requests.request(id, requester: caller.did) else {
                throw VivimError.notFound("request not found")
            }
            return try context.respond(view)
        }

        // Reached only when the request was not upgraded (see `webSocketUpgrade`): a plain GET,
        // or a server without a node.
        routes.add(.get, "/ws/network") { _, _ in
            guard network != nil else { throw VivimError(.serviceUnavailable, "this server runs no P2P node") }
            throw VivimError.validation("GET /ws/network is a WebSocket: send Connection: Upgrade and Upgrade: websocket")
        }
    }

    /// The upgrade decision for `WS /ws/network`. It needs a valid bearer token (the
    /// `Authorization` header, or `?token=` since browsers cannot set headers on a WebSocket)
    /// and a running node. A refused handshake tells a browser nothing, so a request for this
    /// path is upgraded anyway and, without a token or a node, gets one error message —
    /// `{type: "error", error: {code, message}}` — and is closed (1008 policy violation, or
    /// 1013 try again later). Other paths are not upgraded.
    func webSocketUpgrade(_ request: HTTPRequest, _ logger: Logger) async -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        let target = request.path ?? ""
        guard target.split(separator: "?", maxSplits: 1).first == "/ws/network", target.utf8.count <= 8192 else { return .dontUpgrade }
        guard let network = services.network else {
            return .upgrade([:], Self.refusal(VivimError(.serviceUnavailable, "this server runs no P2P node"), code: .unknown(1013)))
        }
        var token: String?
        if let header = request.headerFields[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" { token = String(parts[1]) }
        } else {
            token = URLComponents(string: "http://localhost" + target)?.queryItems?.first(where: { $0.name == "token" })?.value
        }
        guard let token, token.utf8.count <= 4096 else {
            return .upgrade([:], Self.refusal(.unauthorized("a bearer token is required (Authorization header or ?token=)"), code: .policyViolation))
        }
        let caller: AuthenticatedCaller
        do { caller = try await services.auth.authenticate(token: token) } catch {
            return .upgrade([:], Self.refusal(ErrorResponder.classify(error), code: .policyViolation))
        }
        let hub = network.events, node = network.node
        let settings = network.settings
        return .upgrade([:]) { inbound, outbound, _ in
            logger.debug("network events: client connected", metadata: ["did": "\(caller.did)"])
            let events = await hub.subscribe()
            // First message: the node's status, so a client starts from a known state.
            let hello = await NetworkStatusView(await node.status(), node: node, settings: settings)
            struct Hello: Encodable { var type = "status"; var at = Date(); var node: NetworkStatusView }
            try await outbound.write(.text(String(decoding: try APIJSON.encoder.encode(Hello(node: hello)), as: UTF8.self)))
            let writer = Task {
                for await text in events {
                    do { try await outbound.write(.text(text)) } catch { break }
                }
                // The node stopped: close, which ends the client's side and the read loop below.
                try? await outbound.close(.goingAway, reason: "node stopped")
            }
            defer { writer.cancel() }
            // Clients send nothing; reading ends when they close.
            for try await _ in inbound {}
        }
    }
}

extension VivimServerApp {
    /// A WebSocket handler that sends one error message and closes.
    static func refusal(_ error: VivimError, code: WebSocketErrorCode) -> WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context> {
        struct Body: Encodable { var code: String; var message: String }
        struct Message: Encodable { var type = "error"; var error: Body }
        let text = (try? APIJSON.encoder.encode(Message(error: Body(code: error.code.rawValue, message: error.message))))
            .map { String(decoding: $0, as: UTF8.self) } ?? #"{"type":"error"}"#
        return { _, outbound, _ in
            try await outbound.write(.text(text))
            try await outbound.close(code, reason: error.code.rawValue)
        }
    }
}

/// Who may learn where a bundle is: the same rule as reading it (SPEC §7.6).
enum NetworkAccess {
    /// The record of `contentId` if `caller` may see the content; NOT_FOUND otherwise (as unknown).
    static func visibleRecord(_ contentId: String, caller: DID?, services: ServerServices) async throws -> VivimStore.ContentRecord {
        guard BundleStore.isContentID(contentId) else {
            throw VivimError.validation("contentId must be 64 lower-case hex characters", field: "contentId")
        }
        guard let record = try await services.master.contentRecord(contentId: contentId),
              let intent = try await services.master.intent(record.intentID)
        else { throw VivimError.notFound("content not found") }
        if caller == record.ownerDid { return record }
        guard record.status == .active, let source = record.sourceIDs.first else { throw VivimError.notFound("content not found") }
        let effective = try await PermissionService(master: services.master, clock: services.clock)
            .effective(contentID: source, owner: record.ownerDid, asker: caller, intents: [intent], linkGrants: [])
        guard effective.permissions.view else { throw VivimError.notFound("content not found") }
        return record
    }

    /// Providers of a bundle: this node when it holds it, its confirmed replicas, and what the
    /// DHT knows (bounded; a failed lookup leaves the local answer).
    static func providers(of record: VivimStore.ContentRecord, services: ServerServices) async -> ProvidersView {
        var providers: [ProvidersView.Provider] = []
        let local = services.bundles.contains(record.contentId) && record.status == .active
        guard let network = services.network else {
            if local { providers.append(.init(peerId: record.providers.first ?? "local", addresses: [], local: true)) }
            return view(record.contentId, providers)
        }
        let node = network.node
        let me = node.peerID
        if local {
            providers.append(.init(peerId: me.description, addresses: await node.listenAddresses.map(\.description), local: true))
            if let bytes = try? services.bundles.get(record.contentId) {
                for peer in await node.storage.replicas(of: ContentHash(of: [UInt8](bytes))).sorted(by: { $0.description < $1.description }) {
                    providers.append(.init(peerId: peer.description, addresses: [], local: false))
                }
            }
        }
        let lookup = min(network.settings.operationTimeout, .seconds(5))
        if record.status == .active,
           let found = try? await withTimeout(lookup, "providers", { try await node.providers(contentId: record.contentId) }) {
            for peer in found where peer.id != me {
                if let index = providers.firstIndex(where: { $0.peerId == peer.id.description }) {
                    if providers[index].addresses.isEmpty { providers[index].addresses = peer.addrs.map(\.description) }
                } else {
                    providers.append(.init(peerId: peer.id.description, addresses: peer.addrs.map(\.description), local: false))
                }
            }
        }
        return view(record.contentId, providers)
    }

    private static func view(_ contentId: String, _ providers: [ProvidersView.Provider]) -> ProvidersView {
        let count = providers.count
        return ProvidersView(contentId: contentId, providers: providers, replicaCount: count,
                             availability: count >= 3 ? "high" : count == 2 ? "medium" : "low")
    }
}

import Foundation
import VivimNetwork

/// One event of `WS /ws/network`, as JSON text: `{type, at, peerId? | bundleHash?, contentId?, alert?, status?}`.
struct NetworkEventMessage: Encodable, Sendable {
    var type: String
    var at: Date
    var peerId: String?
    var bundleHash: String?
    var contentId: String?
    var alert: String?
    var status: String?
}

/// Fans the node's event stream (one consumer) out to every `WS /ws/network` client. Each
/// client has its own bounded buffer (the newest 1,000 events): a slow client loses old events,
/// never slows the node or the other clients.
actor NetworkEventHub {
    private var subscribers: [UInt64: AsyncStream<String>.Continuation] = [:]
    private var nextID: UInt64 = 0
    private var finished = false
    /// Bundle hash → content id, for the content the distributor published (events name hashes).
    private var contentIDs: [ContentHash: String] = [:]

    /// A stream of JSON texts; it ends when the node stops or the client goes.
    func subscribe() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(1_000))
        guard !finished else {
            continuation.finish()
            return stream
        }
        nextID += 1
        let id = nextID
        subscribers[id] = continuation
        continuation.onTermination = { [weak self] _ in
            Task { await self?.unsubscribe(id) }
        }
        return stream
    }

    var subscriberCount: Int { subscribers.count }

    func remember(_ hash: ContentHash, contentId: String) {
        if contentIDs.count > 100_000 { contentIDs.removeAll(keepingCapacity: true) }
        contentIDs[hash] = contentId
    }

    func contentID(of hash: ContentHash) -> String? { contentIDs[hash] }

    /// Consumes the node's events until they end.
    func run(_ events: AsyncStream<VivimNode.NetworkEvent>) async {
        for await event in events { publish(event) }
    }

    func publish(_ event: VivimNode.NetworkEvent) {
        guard let text = try? String(decoding: APIJSON.encoder.encode(message(for: event)), as: UTF8.self) else { return }
        for continuation in subscribers.values { continuation.yield(text) }
    }

    func finish() {
        finished = true
        for continuation in subscribers.values { continuation.finish() }
        subscribers = [:]
    }

    private func unsubscribe(_ id: UInt64) { subscribers[id] = nil }

    private func message(for event: VivimNode.NetworkEvent) -> NetworkEventMessage {
        var m = NetworkEventMessage(type: "", at: Date())
        switch event {
        case .peerJoined(let peer):
            m.type = "peer.joined"
            m.peerId = peer.description
        case .peerLeft(let peer):
            m.type = "peer.left"
            m.peerId = peer.description
        case .contentStored(let hash):
            m.type = "content.stored"
            m.bundleHash = hash.description
            m.contentId = contentIDs[hash]
        case .contentRevoked(let hash):
            m.type = "content.revoked"
            m.bundleHash = hash.description
            m.contentId = contentIDs[hash]
        case .alert(let alert):
            m.type = "alert"
            switch alert {
            case .nodeDown(let peer):
                m.alert = "node.down"
                m.peerId = peer.description
            case .contentUnreachable(let hash):
                m.alert = "content.unreachable"
                m.bundleHash = hash.description
                m.contentId = contentIDs[hash]
            case .degraded(let health):
                m.alert = "degraded"
                m.status = health.rawValue
            }
        }
        return m
    }
}

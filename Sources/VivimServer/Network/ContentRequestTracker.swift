import Foundation
import VivimCore

/// `POST /api/v1/network/content/:contentId/request`: fetches a bundle into this server's
/// content store in the background, one fetch per content id however many ask, and keeps each
/// request's status for its requester (the newest 10,000 requests, at most one hour).
actor ContentRequestTracker {
    enum Status: String, Encodable, Sendable { case queued, processing, complete, failed }

    struct Request: Sendable {
        let id: String
        let contentId: String
        let requester: DID
        let createdAt: Date
        var status: Status
        var error: String?
        var completedAt: Date?
    }

    /// What the request endpoints answer (SPEC §8.9).
    struct View: Encodable, Sendable {
        var requestId: String
        var contentId: String
        var status: Status
        /// Seconds, while queued or processing.
        var estimatedTime: Double?
        var error: String?
        var createdAt: Date
        var completedAt: Date?
    }

    private var requests: [String: Request] = [:]
    private var order: [String] = []
    private var running: [String: Task<Void, Never>] = [:]
    private let capacity = 10_000
    private let retention: TimeInterval = 3600

    /// Records a request; `fetch` runs unless a fetch of the same content is already running.
    /// `fetch` returns nil on success, else the reason it failed.
    func submit(contentId: String, requester: DID, alreadyLocal: Bool, estimatedSeconds: Double,
                fetch: @escaping @Sendable () async -> String?) -> View {
        prune()
        let now = Date()
        var request = Request(id: "req_" + UUID().uuidString.lowercased(), contentId: contentId, requester: requester, createdAt: now,
                              status: alreadyLocal ? .complete : (running[contentId] == nil ? .queued : .processing))
        if alreadyLocal { request.completedAt = now }
        requests[request.id] = request
        order.append(request.id)
        if !alreadyLocal && running[contentId] == nil {
            running[contentId] = Task { [weak self] in
                await self?.mark(contentId, .processing, error: nil)
                let failure = await fetch()
                await self?.mark(contentId, failure == nil ? .complete : .failed, error: failure)
            }
        }
        return view(request, estimatedSeconds: estimatedSeconds)
    }

    /// The request `id`, for its requester only.
    func request(_ id: String, requester: DID) -> View? {
        guard let request = requests[id], request.requester == requester else { return nil }
        return view(request, estimatedSeconds: nil)
    }

    func cancelAll() {
        for task in running.values { task.cancel() }
        running = [:]
    }

    private func mark(_ contentId: String, _ status: Status, error: String?) {
        let done = status == .complete || status == .failed
        if done { running[contentId] = nil }
        for (id, request) in requests where request.contentId == contentId && (request.status == .queued || request.status == .processing) {
            requests[id]?.status = status
            requests[id]?.error = error
            if done { requests[id]?.completedAt = Date() }
        }
    }

    private func view(_ request: Request, estimatedSeconds: Double?) -> View {
        let pending = request.status == .queued || request.status == .processing
        return View(requestId: request.id, contentId: request.contentId, status: request.status,
                    estimatedTime: pending ? (estimatedSeconds ?? 1) : nil, error: request.error,
                    createdAt: request.createdAt, completedAt: request.completedAt)
    }

    private func prune() {
        let cutoff = Date().addingTimeInterval(-retention)
        var dropped = 0
        for id in order {
            guard let request = requests[id] else { dropped += 1; continue }
            let old = request.createdAt < cutoff && request.status != .queued && request.status != .processing
            guard old || order.count - dropped > capacity else { break }
            requests[id] = nil
            dropped += 1
        }
        if dropped > 0 { order.removeFirst(dropped) }
    }
}

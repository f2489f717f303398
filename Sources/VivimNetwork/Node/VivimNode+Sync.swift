import VivimCRDT

/// CRDT document sync on the node (SPEC §8.4, `/vivim/sync/1.0.0`): a thin
/// facade over ``DocumentSyncService``; see docs/crdt.md for the protocol.
extension VivimNode {
    /// Opens (creating if needed) a shared document held by this node.
    public nonisolated func openDocument(_ id: DocumentID) async throws -> SyncedDocument {
        try await sync.open(id)
        return SyncedDocument(id: id, service: sync)
    }

    /// Syncs `id` with `peer` (dialling `addrs` if not connected): exchanges state
    /// vectors and deltas, then keeps live updates flowing while connected.
    public nonisolated func syncDocument(_ id: DocumentID, with peer: PeerID, addrs: [Multiaddr] = []) async throws {
        try await sync.syncDocument(id, with: peer, addrs: addrs)
    }

    /// Applies an update received out of band and forwards it to the document's peers.
    @discardableResult
    public nonisolated func apply(update: CRDTUpdate) async throws -> CRDTDocument.ApplyOutcome {
        try await sync.apply(update)
    }

    /// Sync events (remote changes, syncs, refusals), for one consumer.
    public nonisolated var syncEvents: AsyncStream<DocumentSyncService.Event> { sync.events }
}

/// A handle on one document held by a node's ``DocumentSyncService``.
public struct SyncedDocument: Sendable {
    public let id: DocumentID
    public let service: DocumentSyncService

    /// A local change, sent live to the document's peers.
    public func change<R: Sendable>(_ body: @Sendable (inout CRDTDocument) throws -> R) async throws -> R {
        try await service.change(id, body)
    }

    /// A local change through a typed view (`ViewCounter`, `SharedCollection`, …).
    public func change<D: SharedDocument, R: Sendable>(_ type: D.Type, _ body: @Sendable (inout D) throws -> R) async throws -> R {
        try await service.change(type, id, body)
    }

    public func read<D: SharedDocument>(_ type: D.Type) async throws -> D {
        guard let view = await service.read(type, id) else { throw DocumentSyncService.Error.unknownDocument(id) }
        return view
    }

    public func document() async throws -> CRDTDocument {
        guard let document = await service.document(id) else { throw DocumentSyncService.Error.unknownDocument(id) }
        return document
    }

    /// The canonical encoded state (also its saved form).
    public func encodedState() async throws -> [UInt8] { try await document().encodedState() }

    public func sync(with peer: PeerID, addrs: [Multiaddr] = []) async throws {
        try await service.syncDocument(id, with: peer, addrs: addrs)
    }
}

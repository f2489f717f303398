/// Errors of `CRDTSyncService`.
public enum CRDTSyncError: Error, Equatable, Sendable {
    case documentExists(DocumentID)
    case unknownDocument(DocumentID)
}

/// The CRDT sync service of SPEC §8.4: documents by id, with create, join,
/// leave, local changes ("apply update"), state, state vector, sync with a
/// peer's state vector and incoming updates. It runs one `CRDTSyncCore` per
/// document and returns the messages to send as `Outgoing` values; a
/// transport (in memory in tests, `/vivim/sync/1.0.0` on the network node)
/// delivers them and feeds replies back through `receive(_:from:)`.
public actor CRDTSyncService {
    public typealias PeerID = String

    /// A message for one peer.
    public struct Outgoing: Sendable, Equatable {
        public var peer: PeerID
        public var message: SyncMessage
    }

    public nonisolated let replica: ReplicaID
    private var cores: [DocumentID: CRDTSyncCore<PeerID>] = [:]

    public init(replica: ReplicaID) { self.replica = replica }

    /// Ids of the documents this service holds.
    public var documentIDs: [DocumentID] { cores.keys.sorted() }

    /// Creates an empty document.
    public func create(_ id: DocumentID) throws {
        guard cores[id] == nil else { throw CRDTSyncError.documentExists(id) }
        cores[id] = CRDTSyncCore(document: CRDTDocument(id: id, replica: replica))
    }

    /// Loads a saved document (from `state(of:)`); replaces one with the same id.
    @discardableResult
    public func load(_ bytes: [UInt8]) throws -> DocumentID {
        let document = try CRDTDocument.load(bytes, replica: replica)
        cores[document.id] = CRDTSyncCore(document: document)
        return document.id
    }

    /// Joins document `id` (creating it if needed) with `peers`: starts sync step 1 with each.
    public func join(_ id: DocumentID, peers: [PeerID]) -> [Outgoing] {
        if cores[id] == nil { cores[id] = CRDTSyncCore(document: CRDTDocument(id: id, replica: replica)) }
        return peers.flatMap { handle(.peerJoined($0), in: id) }
    }

    /// Stops syncing `id` with `peer`.
    public func removePeer(_ peer: PeerID, from id: DocumentID) {
        _ = handle(.peerLeft(peer), in: id)
    }

    /// Leaves document `id`: drops it and its peers; returns its last state.
    @discardableResult
    public func leave(_ id: DocumentID) -> [UInt8]? {
        cores.removeValue(forKey: id)?.document.encodedState()
    }

    /// Applies a local change and returns the update to broadcast to the document's peers.
    public func applyUpdate(to id: DocumentID, _ change: @Sendable (inout CRDTDocument) throws -> Void) throws -> [Outgoing] {
        guard cores[id] != nil else { throw CRDTSyncError.unknownDocument(id) }
        let ((), actions) = try cores[id]!.change(change)
        return Self.outgoing(actions)
    }

    /// The current document value.
    public func document(_ id: DocumentID) throws -> CRDTDocument {
        guard let core = cores[id] else { throw CRDTSyncError.unknownDocument(id) }
        return core.document
    }

    /// The canonical encoded state of `id` (also its saved form).
    public func state(of id: DocumentID) throws -> [UInt8] { try document(id).encodedState() }

    public func stateVector(of id: DocumentID) throws -> StateVector { try document(id).stateVector }

    /// Everything a peer with `peerStateVector` lacks of `id`.
    public func sync(_ id: DocumentID, peerStateVector: StateVector) throws -> CRDTUpdate {
        try document(id).update(since: peerStateVector)
    }

    /// Applies an update received out of band (not through a sync session).
    public func incomingUpdate(_ update: CRDTUpdate) throws -> CRDTDocument.ApplyOutcome {
        guard cores[update.document] != nil else { throw CRDTSyncError.unknownDocument(update.document) }
        return cores[update.document]!.apply(update)
    }

    /// Handles a sync message from `peer`. Messages for documents not held here are ignored.
    public func receive(_ message: SyncMessage, from peer: PeerID) -> [Outgoing] {
        guard cores[message.document] != nil else { return [] }
        return handle(.received(message, from: peer), in: message.document)
    }

    /// Periodic anti-entropy for every document.
    public func tick() -> [Outgoing] {
        documentIDs.flatMap { handle(.antiEntropyTick, in: $0) }
    }

    private func handle(_ event: CRDTSyncCore<PeerID>.Event, in id: DocumentID) -> [Outgoing] {
        guard cores[id] != nil else { return [] }
        return Self.outgoing(cores[id]!.handle(event))
    }

    private static func outgoing(_ actions: [CRDTSyncCore<PeerID>.Action]) -> [Outgoing] {
        actions.compactMap {
            if case .send(let message, let peer) = $0 { return Outgoing(peer: peer, message: message) }
            return nil
        }
    }
}

/// The sync protocol for one document as a Sans-IO state machine: it consumes
/// events (a peer joined or left, a message arrived, a timer fired, a local
/// edit) and returns actions (messages to send). It owns no socket and no
/// timer, so tests run thousands of replicas in one process with a simulated,
/// lossy network, and the network node drives the same code over
/// `/vivim/sync/1.0.0`.
///
/// Lost messages are repaired by sync: an update that cannot be applied yet
/// makes the core ask its sender for a sync, and `.antiEntropyTick` (to be
/// fired periodically by the shell) re-syncs with every peer.
public struct CRDTSyncCore<Peer: Hashable & Sendable>: Sendable {
    public enum PeerState: Equatable, Sendable {
        /// We sent our state vector and wait for the peer's delta.
        case awaitingDelta
        /// The peer answered; live updates flow.
        case synced
    }

    public enum Event: Sendable {
        case peerJoined(Peer)
        case peerLeft(Peer)
        case received(SyncMessage, from: Peer)
        /// Periodic anti-entropy: re-run step 1 with every peer.
        case antiEntropyTick
    }

    public enum Action: Equatable, Sendable {
        case send(SyncMessage, to: Peer)
        /// The document changed because of remote updates.
        case documentChanged
        /// A received update was refused by ``Limits``; the document is as it was.
        case refused(Refusal, from: Peer)
    }

    /// Bounds on what remote updates may make of one document (local changes
    /// are not limited). A peer that could add replicas or bytes without end
    /// would grow every node holding the document (security review finding 20).
    public struct Limits: Equatable, Sendable {
        /// Most replicas (writers) the document's state vector may name.
        public var maxReplicas = 1024
        /// Most bytes of encoded state plus buffered updates.
        public var maxBytes = 1 << 20
        public init() {}
    }

    public enum Refusal: Equatable, Sendable {
        case tooManyReplicas(limit: Int)
        case tooLarge(limit: Int)
    }

    public private(set) var document: CRDTDocument
    public private(set) var peers: [Peer: PeerState] = [:]
    public var limits: Limits
    /// Peers in the order they joined, so actions come out in a deterministic order.
    private var peerOrder: [Peer] = []
    /// An upper bound of ``CRDTDocument/byteCount`` kept without encoding the
    /// document on every update: the measured size plus every update applied
    /// since. Only when it would pass the limit is the document measured.
    private var byteEstimate: Int

    public init(document: CRDTDocument, limits: Limits = .init()) {
        self.document = document
        self.limits = limits
        byteEstimate = document.byteCount
    }

    public mutating func handle(_ event: Event) -> [Action] {
        switch event {
        case .peerJoined(let peer):
            return [requestSync(from: peer)]
        case .peerLeft(let peer):
            peers[peer] = nil
            peerOrder.removeAll { $0 == peer }
            return []
        case .antiEntropyTick:
            return peerOrder.map { requestSync(from: $0) }
        case .received(let message, let peer):
            return receive(message, from: peer)
        }
    }

    /// Runs a local edit and broadcasts the resulting update to every peer.
    public mutating func change<R>(_ body: (inout CRDTDocument) throws -> R) rethrows -> (R, [Action]) {
        let result = try body(&document)
        guard let update = document.takeLocalUpdate() else { return (result, []) }
        grow(by: update)
        return (result, peerOrder.map { .send(.update(update), to: $0) })
    }

    /// Applies an update that arrived outside a sync session.
    public mutating func apply(_ update: CRDTUpdate) -> CRDTDocument.ApplyOutcome {
        grow(by: update)
        return document.apply(update)
    }

    private mutating func grow(by update: CRDTUpdate) {
        let (estimate, overflow) = byteEstimate.addingReportingOverflow(update.encodedByteCount)
        byteEstimate = overflow ? .max : estimate
    }

    private mutating func track(_ peer: Peer, _ state: PeerState) {
        if peers.updateValue(state, forKey: peer) == nil { peerOrder.append(peer) }
    }

    private mutating func requestSync(from peer: Peer) -> Action {
        track(peer, .awaitingDelta)
        return .send(.stateVector(document.id, document.stateVector), to: peer)
    }

    private mutating func receive(_ message: SyncMessage, from peer: Peer) -> [Action] {
        guard message.document == document.id else { return [] }
        switch message {
        case .stateVector(_, let theirs):
            var actions: [Action] = [.send(.delta(document.update(since: theirs)), to: peer)]
            // A peer we do not know yet, or one with operations we lack: sync the other way too.
            if peers[peer] == nil || (peers[peer] == .synced && !theirs.isCovered(by: document.stateVector)) {
                actions.append(requestSync(from: peer))
            }
            return actions
        case .delta(let update):
            track(peer, .synced)
            return apply(update, from: peer)
        case .update(let update):
            if peers[peer] == nil { track(peer, .synced) }
            return apply(update, from: peer)
        }
    }

    private mutating func apply(_ update: CRDTUpdate, from peer: Peer) -> [Action] {
        let known = document.stateVector
        let added = update.provides.counts.keys.reduce(0) { $0 + (known.counts[$1] == nil ? 1 : 0) }
        guard known.counts.count + added <= limits.maxReplicas else {
            return [.refused(.tooManyReplicas(limit: limits.maxReplicas), from: peer)]
        }
        let size = update.encodedByteCount
        let (estimate, overflow) = byteEstimate.addingReportingOverflow(size)
        var before: CRDTDocument?
        if overflow || estimate > limits.maxBytes {
            before = document
        } else {
            byteEstimate = estimate
        }
        let outcome = document.apply(update)
        if let before {
            let after = document.byteCount
            // Refused only if this update grew a document that is over the limit.
            if after > limits.maxBytes, after > before.byteCount {
                document = before
                byteEstimate = before.byteCount
                return [.refused(.tooLarge(limit: limits.maxBytes), from: peer)]
            }
            byteEstimate = after
        }
        switch outcome {
        case .applied:
            return update.isEmpty ? [] : [.documentChanged]
        case .buffered:
            // Something before this update was lost or is late: ask for it,
            // unless a request to this peer is already outstanding.
            return peers[peer] == .awaitingDelta ? [] : [requestSync(from: peer)]
        case .wrongDocument:
            return []
        }
    }
}

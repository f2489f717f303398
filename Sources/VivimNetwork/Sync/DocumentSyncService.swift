import Crypto
import Logging
import Synchronization
import VivimCRDT

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The I/O shell of ``CRDTSyncCore`` on a ``P2PHost``: serves and opens
/// `/vivim/sync/1.0.0` streams (one long-lived stream per peer carries every
/// document both ways), feeds received frames to one core per document and
/// writes the messages the cores return. Live updates travel on the same
/// streams: a local change goes to every peer synced on the document, and a
/// remote update that changed the document is forwarded once (seen cache) to
/// the document's other peers, so nodes that are not directly connected
/// still converge through a common peer.
///
/// Access control: ``Configuration/policy`` decides, per document and peer,
/// whether to serve or accept it (default: only documents held here). A
/// refused document is answered with a `denied` frame and nothing of it is sent.
///
/// Who may write what (security review finding 20): in a view counter
/// (`views:<contentId>`) each node writes one replica, whose id is derived
/// from its peer id (``ReplicaID/init(peer:)``). From a peer, only its own
/// replica's entry is accepted (``ViewCounter/admitting(_:writtenBy:)``):
/// another replica's count reaches a node from that replica's node itself
/// (directly, by sync or anti-entropy), never relayed, unless
/// ``Configuration/trustedRelay`` names the sending peer (e.g. the operator's
/// own nodes). Entries carry no signature, so there is no proof to check
/// instead. A peer can still claim any count for its own entry: the total is
/// "views reported by the nodes that hold the counter", each node's share
/// readable apart (``ViewCounter/servedByNode``).
///
/// Bounds: every document has at most ``Configuration/maxReplicasPerDocument``
/// replicas and ``Configuration/maxDocumentBytes`` bytes from remote updates
/// (``CRDTSyncCore/Limits``), a peer can make this node create at most
/// ``Configuration/maxDocumentsPerPeer`` documents, and the node holds at
/// most ``Configuration/maxDocuments``.
public actor DocumentSyncService {
    /// Whether `peer` may sync `document`; `heldLocally` tells if this node has it.
    /// Returning true for a document not held lets a peer create it here.
    public typealias AccessPolicy = @Sendable (_ document: DocumentID, _ peer: PeerID, _ heldLocally: Bool) -> Bool

    public struct Configuration: Sendable {
        public var policy: AccessPolicy = { _, _, held in held }
        public var limits = SyncProtocol.Limits()
        /// Documents held at most (peers cannot make a node create more).
        public var maxDocuments = 10_000
        /// Documents one peer may make this node create (per peer; only with a
        /// policy that lets peers create documents).
        public var maxDocumentsPerPeer = 256
        /// Replicas (writers) one document may name, from remote updates (per document).
        public var maxReplicasPerDocument = 1024
        /// Bytes of one document (encoded state plus buffered updates) remote updates may reach (per document).
        public var maxDocumentBytes = 1 << 20
        /// Whether entries of other replicas relayed by `peer` are accepted in
        /// view counter `document` (they are always dropped otherwise). Default: no peer.
        public var trustedRelay: @Sendable (_ document: DocumentID, _ peer: PeerID) -> Bool = { _, _ in false }
        /// Periodic anti-entropy (sync step 1 with every peer of every document).
        public var antiEntropyInterval: Duration = .seconds(30)
        /// False when an orchestrator calls ``antiEntropy()`` on its own schedule
        /// (``VivimNode`` does, through its task scheduler).
        public var runsOwnAntiEntropy = true
        /// Bound on ``syncDocument(_:with:addrs:)`` waiting for the peer's delta.
        public var syncTimeout: Duration = .seconds(10)
        /// Frames and bytes queued per stream beyond which new frames are dropped
        /// (anti-entropy repairs them): a peer asking for many large deltas cannot grow memory.
        public var maxQueuedFrames = 4096
        public var maxQueuedBytes = 32 << 20
        /// This node's replica id in every document but view counters (which
        /// use ``DocumentSyncService/peerReplica``). Default: a fresh random id
        /// per service, so a restarted node never reuses operation ids (as Yjs does).
        /// A view counter's replica is the same after a restart: its G-Counter
        /// entry merges by maximum, so a node that lost its copy learns its own
        /// earlier count back at the next sync; views it counted before that sync
        /// may be undercounted, never counted twice.
        public var replica: ReplicaID?
        public init() {}
    }

    public enum Event: Sendable, Equatable {
        /// A remote update or delta changed the document.
        case documentChanged(DocumentID, from: PeerID)
        /// The peer's delta arrived: this node has everything the peer had.
        case synced(DocumentID, with: PeerID)
        /// The peer's policy refused the document.
        case denied(DocumentID, by: PeerID)
        /// This node's policy refused the document to the peer.
        case refused(DocumentID, peer: PeerID)
        /// The peer sent a malformed or oversized frame; its stream was reset.
        case protocolError(PeerID, String)
        /// A remote update was refused by a size or replica bound; the document is unchanged.
        case limitExceeded(DocumentID, from: PeerID)
    }

    public enum Error: Swift.Error, Equatable, Sendable {
        case unknownDocument(DocumentID)
        case invalidDocumentID(String)
        case tooManyDocuments(Int)
        /// The local policy does not allow syncing the document with the peer.
        case notAllowed(DocumentID, PeerID)
        /// The peer refused the document.
        case denied(DocumentID, PeerID)
        case notConnected(PeerID)
        case timeout
        case stopped
        case alreadyReplaying(DocumentID)
        /// The peer's update would pass a bound of the document (replicas or bytes).
        case limitExceeded(DocumentID, PeerID)
    }

    public nonisolated let replica: ReplicaID
    /// This node's replica in view counters, derived from its peer id.
    public nonisolated let peerReplica: ReplicaID
    public nonisolated let events: AsyncStream<Event>
    private let eventSink: AsyncStream<Event>.Continuation
    private let host: P2PHost
    private let configuration: Configuration
    private let logger: Logger

    private var cores: [DocumentID: CRDTSyncCore<PeerID>] = [:]
    /// Peers a document was synced with, kept across disconnects: re-synced when they reconnect.
    private var partners: [DocumentID: Set<PeerID>] = [:]
    private var sessions: [PeerID: [Session]] = [:]
    private var opening: [PeerID: Task<Void, Swift.Error>] = [:]
    private var waiters: [WaiterKey: [Completion]] = [:]
    private var seen = SeenCache(capacity: 8192)
    private var replaying: Set<DocumentID> = []
    /// Documents each peer made this node create (bounded by ``Configuration/maxDocumentsPerPeer``).
    private var createdBy: [PeerID: Set<DocumentID>] = [:]
    private var nextSessionID: UInt64 = 0
    private var tasks: [Task<Void, Never>] = []
    private var started = false
    private var stopped = false

    final class Session: Sendable {
        let id: UInt64
        let stream: P2PStream
        let outbound: AsyncStream<[UInt8]>.Continuation
        /// Bytes queued and not yet written; bounded by ``Configuration/maxQueuedBytes``.
        let queuedBytes = Mutex(0)

        init(id: UInt64, stream: P2PStream, outbound: AsyncStream<[UInt8]>.Continuation) {
            self.id = id
            self.stream = stream
            self.outbound = outbound
        }

        /// Queues a frame unless the stream already has `limit` bytes waiting
        /// (a slow or hostile peer must not grow memory; anti-entropy repairs the drop).
        func enqueue(_ frame: [UInt8], limit: Int) {
            let admitted = queuedBytes.withLock { queued -> Bool in
                guard queued + frame.count <= limit || queued == 0 else { return false }
                queued += frame.count
                return true
            }
            guard admitted else { return }
            if case .dropped = outbound.yield(frame) { queuedBytes.withLock { $0 -= frame.count } }
        }
    }

    struct WaiterKey: Hashable { let document: DocumentID; let peer: PeerID }

    public init(host: P2PHost, configuration: Configuration = .init(), logger: Logger = Logger(label: "vivim.sync")) {
        self.host = host
        self.configuration = configuration
        self.logger = logger
        replica = configuration.replica ?? .random()
        peerReplica = ReplicaID(peer: host.peerID)
        (events, eventSink) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(10_000))
    }

    /// Registers the protocol handler, re-syncs partners when they connect, runs anti-entropy.
    public func start() {
        guard !started else { return }
        started = true
        host.handle(SyncProtocol.protocolID) { [weak self] stream in
            await self?.serve(stream)
        }
        host.observeConnections { [weak self] event in
            guard let self, case .connected(let connection) = event else { return }
            Task { await self.peerConnected(connection.remotePeer) }
        }
        guard configuration.runsOwnAntiEntropy else { return }
        let interval = configuration.antiEntropyInterval
        tasks.append(Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                await self?.antiEntropy()
            }
        })
    }

    /// Closes every sync stream and fails pending syncs; documents stay readable.
    public func stop() {
        guard !stopped else { return }
        stopped = true
        for t in tasks { t.cancel() }
        tasks = []
        for session in sessions.values.joined() {
            session.outbound.finish()
            session.stream.reset()
        }
        sessions = [:]
        for completions in waiters.values { for c in completions { c.complete(.failure(Error.stopped)) } }
        waiters = [:]
        eventSink.finish()
    }

    // MARK: documents

    /// Ids of the documents held here.
    public var documentIDs: [DocumentID] { cores.keys.sorted() }

    /// Opens document `id`, creating it empty if it is not held yet.
    public func open(_ id: DocumentID) throws {
        guard cores[id] == nil else { return }
        try Self.validate(id)
        guard cores.count < configuration.maxDocuments else { throw Error.tooManyDocuments(configuration.maxDocuments) }
        cores[id] = makeCore(id)
    }

    /// View counters are written with the peer-derived replica (so peers can
    /// tell whose entry is whose); other documents with the service's replica.
    private func makeCore(_ id: DocumentID) -> CRDTSyncCore<PeerID> {
        var limits = CRDTSyncCore<PeerID>.Limits()
        limits.maxReplicas = configuration.maxReplicasPerDocument
        limits.maxBytes = configuration.maxDocumentBytes
        let writer = Self.isViewCounter(id) ? peerReplica : replica
        return CRDTSyncCore(document: CRDTDocument(id: id, replica: writer), limits: limits)
    }

    /// Every `views:` id is a view counter for the write rule, well-formed key or not.
    static func isViewCounter(_ id: DocumentID) -> Bool { id.rawValue.hasPrefix(DocumentNamespace.views.rawValue + ":") }

    /// Loads a saved state (``save(_:)``): a new document, or merged into the one held.
    @discardableResult
    public func load(_ bytes: [UInt8]) throws -> DocumentID {
        let document = try CRDTDocument.load(bytes, replica: replica)
        try open(document.id)
        let (_, actions) = cores[document.id]!.change { $0.apply(document.update(since: StateVector())) }
        flush(actions, in: document.id)
        return document.id
    }

    /// The saved form of a document (its canonical encoded state).
    public func save(_ id: DocumentID) -> [UInt8]? { cores[id]?.document.encodedState() }

    /// Stops holding `id` (and syncing it); returns its last state.
    @discardableResult
    public func close(_ id: DocumentID) -> [UInt8]? {
        partners[id] = nil
        for (peer, ids) in createdBy where ids.contains(id) {
            createdBy[peer] = ids.count == 1 ? nil : ids.subtracting([id])
        }
        return cores.removeValue(forKey: id)?.document.encodedState()
    }

    public func document(_ id: DocumentID) -> CRDTDocument? { cores[id]?.document }

    /// A typed view of document `id`.
    public func read<D: SharedDocument>(_: D.Type, _ id: DocumentID) -> D? { cores[id].map { D($0.document) } }

    /// Peers currently synced on `id`.
    public func peers(of id: DocumentID) -> [PeerID] { cores[id].map { Array($0.peers.keys) } ?? [] }

    /// Runs a local change and sends the resulting update to every peer synced on the document.
    public func change<R: Sendable>(_ id: DocumentID, _ body: @Sendable (inout CRDTDocument) throws -> R) throws -> R {
        guard cores[id] != nil else { throw Error.unknownDocument(id) }
        let (result, actions) = try cores[id]!.change(body)
        for case .send(.update(let update), _) in actions { _ = seen.insert(Self.digest(update)) }
        flush(actions, in: id)
        return result
    }

    /// A local change through a typed view.
    public func change<D: SharedDocument, R: Sendable>(_: D.Type, _ id: DocumentID, _ body: @Sendable (inout D) throws -> R) throws -> R {
        try change(id) { document in try D.modify(&document, body) }
    }

    /// Applies an update that arrived out of band (e.g. from a client over
    /// HTTP) and, if it changed the document, forwards it to the document's peers.
    @discardableResult
    public func apply(_ update: CRDTUpdate) throws -> CRDTDocument.ApplyOutcome {
        guard cores[update.document] != nil else { throw Error.unknownDocument(update.document) }
        let outcome = cores[update.document]!.apply(update)
        if outcome == .applied, !update.isEmpty, seen.insert(Self.digest(update)) { forward(update, except: nil) }
        return outcome
    }

    // MARK: sync

    /// Runs the two-step exchange of `id` with `peer` (dialling `addrs` if not
    /// connected) and returns once the peer's delta is applied here; the peer
    /// receives this node's delta in the same exchange. From then on live
    /// updates flow both ways while the peers stay connected.
    public func syncDocument(_ id: DocumentID, with peer: PeerID, addrs: [Multiaddr] = []) async throws {
        guard !stopped else { throw Error.stopped }
        try Self.validate(id)
        guard configuration.policy(id, peer, cores[id] != nil) else { throw Error.notAllowed(id, peer) }
        try open(id)
        try await ensureSession(peer, addrs: addrs)
        guard cores[id] != nil else { throw Error.unknownDocument(id) }
        partners[id, default: []].insert(peer)
        let completion = Completion()
        let key = WaiterKey(document: id, peer: peer)
        waiters[key, default: []].append(completion)
        flush(cores[id]!.handle(.peerJoined(peer)), in: id)
        let timeout = configuration.syncTimeout
        let timer = Task {
            try? await Task.sleep(for: timeout)
            completion.complete(.failure(Error.timeout))
        }
        defer { timer.cancel() }
        try await completion.wait()
    }

    /// Syncs every document held here with `peer` that the policy allows.
    public func syncAll(with peer: PeerID, addrs: [Multiaddr] = []) async throws {
        for id in documentIDs where configuration.policy(id, peer, true) {
            try await syncDocument(id, with: peer, addrs: addrs)
        }
    }

    // MARK: offline action queue

    /// Applies every pending action of the queue `queue` once: actions on
    /// shared documents change them here (and so reach their peers); others
    /// (accept, decline) go to `external`. Each applied action is marked in the
    /// queue, which syncs like any document, so no replica applies it again.
    /// Run it on one node per queue (the owner's home node). Returns the number applied.
    @discardableResult
    public func replayActions(_ queue: DocumentID, wallClock: UInt64 = DocumentSyncService.wallClockMilliseconds,
                              external: @Sendable (OfflineActionQueue.Entry) async throws -> Void = { _ in }) async throws -> Int {
        guard cores[queue] != nil else { throw Error.unknownDocument(queue) }
        guard replaying.insert(queue).inserted else { throw Error.alreadyReplaying(queue) }
        defer { replaying.remove(queue) }
        var applied = 0
        for entry in read(OfflineActionQueue.self, queue)?.pending ?? [] {
            guard !(read(OfflineActionQueue.self, queue)?.isApplied(entry.operationId) ?? true) else { continue }
            if let target = entry.action.targetDocument {
                try open(target)
                try change(target) { entry.action.apply(to: &$0, wallClock: wallClock) }
            } else {
                try await external(entry)
            }
            try change(OfflineActionQueue.self, queue) { $0.markApplied(entry.operationId, wallClock: wallClock) }
            applied += 1
        }
        return applied
    }

    // MARK: sessions

    private func ensureSession(_ peer: PeerID, addrs: [Multiaddr]) async throws {
        if sessions[peer]?.isEmpty == false { return }
        if let pending = opening[peer] {
            try await pending.value
            return
        }
        let task = Task { try await self.openSession(to: peer, addrs: addrs) }
        opening[peer] = task
        defer { opening[peer] = nil }
        try await task.value
    }

    private nonisolated func openSession(to peer: PeerID, addrs: [Multiaddr]) async throws {
        if host.connections(to: peer).isEmpty, !addrs.contains(where: { $0.tcpEndpoint != nil }) { throw Error.notConnected(peer) }
        let connection = try await host.connection(to: peer, addresses: addrs)
        let stream = try await connection.openStream(SyncProtocol.protocolID)
        guard let session = await register(stream, peer: peer) else {
            stream.reset()
            throw Error.stopped
        }
        Task { await self.readLoop(session, peer: peer) }
    }

    /// An inbound stream: registered as a session and read until it ends.
    private nonisolated func serve(_ stream: P2PStream) async {
        let peer = stream.connection.remotePeer
        guard let session = await register(stream, peer: peer) else { return }
        await readLoop(session, peer: peer)
    }

    private func register(_ stream: P2PStream, peer: PeerID) -> Session? {
        guard !stopped else { return nil }
        nextSessionID += 1
        let (frames, outbound) = AsyncStream.makeStream(of: [UInt8].self, bufferingPolicy: .bufferingOldest(configuration.maxQueuedFrames))
        let session = Session(id: nextSessionID, stream: stream, outbound: outbound)
        sessions[peer, default: []].append(session)
        Task { await Self.writeLoop(frames, session) }
        return session
    }

    /// One writer per stream keeps frames in order; large frames go out in 64 KiB writes.
    private static func writeLoop(_ frames: AsyncStream<[UInt8]>, _ session: Session) async {
        for await frame in frames {
            do {
                var offset = 0
                while offset < frame.count {
                    let end = min(frame.count, offset + 64 * 1024)
                    try await session.stream.write(offset == 0 && end == frame.count ? frame : Array(frame[offset..<end]))
                    offset = end
                }
                session.queuedBytes.withLock { $0 -= frame.count }
            } catch {
                session.stream.reset()
                return
            }
        }
    }

    private nonisolated func readLoop(_ session: Session, peer: PeerID) async {
        var reader = StreamReader(session.stream)
        let limits = configuration.limits
        while !Task.isCancelled {
            do {
                guard let body = try await reader.readFrame(maxLength: limits.maxFrameLength) else { break }
                let frame = try SyncProtocol.Frame(decoding: body, limits: limits)
                await received(frame, from: peer)
            } catch let error as SyncProtocol.Error {
                await refuseStream(session, peer: peer, reason: "\(error)")
                break
            } catch let error as WireError {
                await refuseStream(session, peer: peer, reason: "\(error)")
                break
            } catch {
                break  // reset or closed by the peer
            }
        }
        await ended(session, peer: peer)
    }

    private func refuseStream(_ session: Session, peer: PeerID, reason: String) {
        logger.debug("sync stream refused", metadata: ["peer": "\(peer)", "reason": "\(reason)"])
        eventSink.yield(.protocolError(peer, reason))
        session.outbound.finish()
        session.stream.reset()
    }

    private func ended(_ session: Session, peer: PeerID) {
        session.outbound.finish()
        sessions[peer]?.removeAll { $0.id == session.id }
        guard sessions[peer]?.isEmpty ?? true else { return }
        sessions[peer] = nil
        for id in cores.keys where cores[id]!.peers[peer] != nil { _ = cores[id]!.handle(.peerLeft(peer)) }
        for (key, completions) in waiters where key.peer == peer {
            for c in completions { c.complete(.failure(P2PError.connectionClosed)) }
            waiters[key] = nil
        }
    }

    /// A partner reconnected: re-run step 1 for every document shared with it.
    private func peerConnected(_ peer: PeerID) async {
        guard !stopped else { return }
        let shared = partners.filter { $0.value.contains(peer) && cores[$0.key] != nil }.map(\.key).sorted()
        guard !shared.isEmpty else { return }
        do { try await ensureSession(peer, addrs: []) } catch { return }
        for id in shared where cores[id] != nil && configuration.policy(id, peer, true) {
            flush(cores[id]!.handle(.peerJoined(peer)), in: id)
        }
    }

    /// One anti-entropy round: sync step 1 with every partner of every document.
    public func antiEntropy() {
        guard !stopped else { return }
        var out = Outbox()
        for id in cores.keys.sorted() { out.add(cores[id]!.handle(.antiEntropyTick)) }
        send(out)
    }

    // MARK: frames

    private func received(_ frame: SyncProtocol.Frame, from peer: PeerID) {
        guard !stopped else { return }
        switch frame {
        case .denied(let ids):
            for id in ids {
                if cores[id] != nil { _ = cores[id]!.handle(.peerLeft(peer)) }
                partners[id]?.remove(peer)
                for c in waiters.removeValue(forKey: WaiterKey(document: id, peer: peer)) ?? [] {
                    c.complete(.failure(Error.denied(id, peer)))
                }
                eventSink.yield(.denied(id, by: peer))
            }
        case .messages(let messages):
            var out = Outbox()
            var denied: [DocumentID] = []
            for message in messages { handle(message, from: peer, into: &out, denied: &denied) }
            if !denied.isEmpty { out.deny(denied, to: peer) }
            send(out)
        }
    }

    private func handle(_ received: SyncMessage, from peer: PeerID, into out: inout Outbox, denied: inout [DocumentID]) {
        let id = received.document
        let held = cores[id] != nil
        guard configuration.policy(id, peer, held),
              held || (cores.count < configuration.maxDocuments && createdBy[peer, default: []].count < configuration.maxDocumentsPerPeer)
        else {
            if !denied.contains(id) { denied.append(id) }
            eventSink.yield(.refused(id, peer: peer))
            return
        }
        if !held {
            cores[id] = makeCore(id)
            createdBy[peer, default: []].insert(id)
        }
        partners[id, default: []].insert(peer)
        // A view counter takes from a peer only what that peer may write.
        let message = Self.isViewCounter(id) && !configuration.trustedRelay(id, peer)
            ? received.admittingViews(writtenBy: ReplicaID(peer: peer)) : received
        let actions = cores[id]!.handle(.received(message, from: peer))
        out.add(actions)
        for case .refused(let refusal, _) in actions {
            logger.debug("sync update refused", metadata: ["document": "\(id)", "peer": "\(peer)", "reason": "\(refusal)"])
            eventSink.yield(.limitExceeded(id, from: peer))
            if case .delta = message {
                for c in waiters.removeValue(forKey: WaiterKey(document: id, peer: peer)) ?? [] { c.complete(.failure(Error.limitExceeded(id, peer))) }
            }
            return
        }
        let changed = actions.contains(.documentChanged)
        if changed { eventSink.yield(.documentChanged(id, from: peer)) }
        switch message {
        case .delta:
            for c in waiters.removeValue(forKey: WaiterKey(document: id, peer: peer)) ?? [] { c.complete(.success(())) }
            eventSink.yield(.synced(id, with: peer))
        case .update(let update):
            // Gossip: pass a live update on once, to the document's other peers.
            if changed, seen.insert(Self.digest(update)) {
                for other in cores[id]!.peers.keys where other != peer { out.add(.update(update), to: other) }
            }
        case .stateVector:
            break
        }
    }

    private func forward(_ update: CRDTUpdate, except: PeerID?) {
        guard let core = cores[update.document] else { return }
        var out = Outbox()
        for peer in core.peers.keys where peer != except { out.add(.update(update), to: peer) }
        send(out)
    }

    private func flush(_ actions: [CRDTSyncCore<PeerID>.Action], in id: DocumentID) {
        var out = Outbox()
        out.add(actions)
        send(out)
    }

    private func send(_ out: Outbox) {
        for (peer, frames) in out.frames(limits: configuration.limits) {
            guard let session = sessions[peer]?.first else { continue }  // not connected: anti-entropy catches up later
            for frame in frames { session.enqueue(frame, limit: configuration.maxQueuedBytes) }
        }
    }

    // MARK: helpers

    static func validate(_ id: DocumentID) throws {
        let length = id.rawValue.utf8.count
        guard length > 0, length <= DocumentID.maxLength else { throw Error.invalidDocumentID(id.rawValue) }
    }

    static func digest(_ update: CRDTUpdate) -> [UInt8] { Array(SHA256.hash(data: update.encoded()).prefix(16)) }

    /// Milliseconds since 1970 (the wall clock of last-writer-wins writes).
    public static var wallClockMilliseconds: UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(max(0, ts.tv_sec)) * 1000 + UInt64(max(0, ts.tv_nsec)) / 1_000_000
    }
}

extension ReplicaID {
    /// The replica a node writes in view counters: the first 8 bytes of
    /// SHA-256("vivim/replica/v1|" ‖ peer id multihash), big-endian. Peers
    /// derive it from the sender's authenticated peer id, so an entry can be
    /// checked against the peer that sent it; finding another peer id with
    /// the same replica is a 64-bit second preimage.
    public init(peer: PeerID) {
        var hasher = SHA256()
        hasher.update(data: Array("vivim/replica/v1|".utf8))
        hasher.update(data: peer.multihash.bytes)
        self.init(hasher.finalize().prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }
}

/// Messages per peer, framed: consecutive small messages share a frame (step 1
/// of many documents goes out as one frame), large ones travel alone.
struct Outbox {
    private var order: [PeerID] = []
    private var messages: [PeerID: [SyncMessage]] = [:]
    private var denied: [PeerID: [DocumentID]] = [:]
    static let batchBytes = 64 * 1024

    mutating func add(_ actions: [CRDTSyncCore<PeerID>.Action]) {
        for case .send(let message, let peer) in actions { add(message, to: peer) }
    }

    mutating func add(_ message: SyncMessage, to peer: PeerID) {
        if messages[peer] == nil && denied[peer] == nil { order.append(peer) }
        messages[peer, default: []].append(message)
    }

    mutating func deny(_ ids: [DocumentID], to peer: PeerID) {
        if messages[peer] == nil && denied[peer] == nil { order.append(peer) }
        denied[peer, default: []].append(contentsOf: ids)
    }

    func frames(limits: SyncProtocol.Limits) -> [(PeerID, [[UInt8]])] {
        order.map { peer in
            var frames: [[UInt8]] = []
            var batch: [[UInt8]] = []
            var batchSize = 0
            func close() {
                guard !batch.isEmpty else { return }
                var writer = BinaryWriter(reservingCapacity: batchSize + 8)
                writer.write(byte: SyncProtocol.version)
                writer.write(byte: 1)
                writer.write(count: batch.count)
                var body = writer.bytes
                for part in batch { body.append(contentsOf: part) }
                frames.append(VarintFrame.encode(body))
                batch = []
                batchSize = 0
            }
            for message in messages[peer] ?? [] {
                var writer = BinaryWriter()
                message.encode(to: &writer)
                if batchSize + writer.bytes.count > Self.batchBytes || batch.count == limits.maxDocumentsPerFrame { close() }
                batch.append(writer.bytes)
                batchSize += writer.bytes.count
            }
            close()
            let refused = denied[peer] ?? []
            for start in stride(from: 0, to: refused.count, by: max(1, limits.maxDocumentsPerFrame)) {
                let slice = Array(refused[start..<min(refused.count, start + limits.maxDocumentsPerFrame)])
                frames.append(SyncProtocol.Frame.denied(slice).framed)
            }
            return (peer, frames)
        }
    }
}

/// Recently seen update digests (FIFO eviction), so a forwarded update is passed on once.
struct SeenCache {
    let capacity: Int
    private var set: Set<[UInt8]> = []
    private var fifo: [[UInt8]] = []
    private var head = 0

    init(capacity: Int) { self.capacity = capacity }

    /// True if `digest` was not seen before.
    mutating func insert(_ digest: [UInt8]) -> Bool {
        guard set.insert(digest).inserted else { return false }
        if fifo.count < capacity {
            fifo.append(digest)
        } else {
            set.remove(fifo[head])
            fifo[head] = digest
            head = (head + 1) % capacity
        }
        return true
    }
}

/// A one-shot result an actor hands to a waiting caller; the first completion wins.
final class Completion: Sendable {
    private let state = Mutex<(result: Result<Void, any Error>?, waiter: CheckedContinuation<Void, any Error>?)>((nil, nil))

    func complete(_ result: Result<Void, any Error>) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, any Error>? in
            guard s.result == nil else { return nil }
            s.result = result
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(with: result)
    }

    func wait() async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            let ready = state.withLock { s -> Result<Void, any Error>? in
                if let r = s.result { return r }
                s.waiter = c
                return nil
            }
            if let ready { c.resume(with: ready) }
        }
    }
}

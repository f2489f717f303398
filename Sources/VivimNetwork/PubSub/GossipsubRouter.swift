/// The gossipsub v1.1 router (`/meshsub/1.1.0`; libp2p/specs pubsub/gossipsub
/// gossipsub-v1.0.md and gossipsub-v1.1.md) as a Sans-IO state machine: a mesh
/// of degree D per topic kept between D_lo and D_hi by a heartbeat, GRAFT/PRUNE
/// with backoff, IHAVE/IWANT gossip from a sliding message cache, StrictSign
/// validation, de-duplication, flood publishing and basic peer scoring.
/// The shell reports peers, RPCs and heartbeats; it performs the returned actions.
public struct GossipsubRouter: Sendable {
    public struct Configuration: Sendable {
        public var d = 6
        public var dLow = 5
        public var dHigh = 12
        public var dLazy = 6
        /// Peers kept by score (the rest at random) when pruning an oversized mesh.
        public var dScore = 4
        public var heartbeatInterval: Duration = .seconds(1)
        public var fanoutTTL: Duration = .seconds(60)
        /// Heartbeats of history kept in the message cache, and the part gossiped.
        public var historyLength = 5
        public var historyGossip = 3
        public var seenTTL: Duration = .seconds(120)
        public var pruneBackoff: Duration = .seconds(60)
        public var maxIHaveMessages = 5000
        public var maxMessageSize = 1 << 20
        /// v1.1 flood publishing: a node's own messages go to every topic peer with enough score.
        public var floodPublish = true
        // Basic scoring (v1.1 §"Peer Scoring", P2, P4 and P7 only).
        public var gossipThreshold = -10.0
        public var publishThreshold = -50.0
        public var graylistThreshold = -80.0
        public var firstDeliveryWeight = 1.0
        public var firstDeliveryCap = 10.0
        public var invalidMessageWeight = -10.0
        public var behaviourPenaltyWeight = -10.0
        public var scoreDecay = 0.9
        public init() {}
    }

    public enum Action: Sendable {
        case send(to: PeerID, PubSubRPC)
        /// A valid, new message on a topic this node subscribes to.
        case deliver(PubSubRPC.Message, author: PeerID)
    }

    struct PeerState: Sendable {
        var topics: Set<String> = []
        var firstDeliveries = 0.0
        var invalidMessages = 0.0
        var behaviourPenalty = 0.0
    }

    struct CacheEntry: Sendable { let id: HashedBytes; let topic: String }

    public let identity: PeerKeyPair
    public let configuration: Configuration
    private var peers: [PeerID: PeerState] = [:]
    /// Topic → peers subscribed to it (an index over `peers[_].topics`).
    private var topicIndex: [String: Set<PeerID>] = [:]
    public private(set) var subscriptions: Set<String> = []
    public private(set) var mesh: [String: Set<PeerID>] = [:]
    private var fanout: [String: Set<PeerID>] = [:]
    private var fanoutPublished: [String: NetworkInstant] = [:]
    private var backoff: [String: [PeerID: NetworkInstant]] = [:]
    private var history: [[CacheEntry]]
    private var cache: [HashedBytes: PubSubRPC.Message] = [:]
    /// Message ids seen, with their expiry; `seenOrder` holds the same ids in expiry order
    /// (a FIFO, since every id gets the same TTL) so the heartbeat expires in O(expired),
    /// not by rebuilding the whole set (10,000 messages/s × 120 s = 1.2 M ids).
    private var seen: [HashedBytes: NetworkInstant] = [:]
    private var seenOrder: [(id: HashedBytes, expires: NetworkInstant)] = []
    private var seenOrderHead = 0
    private var seqno: UInt64
    private var outbox: [PeerID: PubSubRPC] = [:]
    private let pruneBackoffSeconds: UInt64

    /// Checks a received message and returns its author (StrictSign by default).
    public typealias Validator = @Sendable (PubSubRPC.Message) -> PeerID?
    private let validate: Validator

    public init(identity: PeerKeyPair, configuration: Configuration = .init(), initialSeqno: UInt64 = 0,
                validator: Validator? = nil) {
        self.identity = identity
        self.validate = validator ?? { $0.verifiedAuthor() }
        self.configuration = configuration
        self.history = Array(repeating: [], count: max(1, configuration.historyLength))
        self.pruneBackoffSeconds = UInt64(max(0, configuration.pruneBackoff.components.seconds))
        // Seqnos must not repeat across restarts: start from a caller-provided value (e.g. the clock).
        self.seqno = initialSeqno
    }

    public var knownPeers: [PeerID] { Array(peers.keys) }

    /// Peers that announced a subscription to `topic`.
    public func peers(subscribedTo topic: String) -> Set<PeerID> { topicIndex[topic] ?? [] }

    public func score(of peer: PeerID) -> Double {
        guard let p = peers[peer] else { return 0 }
        let c = configuration
        return c.firstDeliveryWeight * min(p.firstDeliveries, c.firstDeliveryCap)
            + c.invalidMessageWeight * p.invalidMessages * p.invalidMessages
            + c.behaviourPenaltyWeight * p.behaviourPenalty * p.behaviourPenalty
    }

    // MARK: outbox (one RPC per peer per call)

    /// Edits the peer's pending RPC in place (the dictionary's modify accessor): copying it out
    /// and back would copy its message list on every append, quadratic in a batch.
    private mutating func queue(_ peer: PeerID, _ edit: (inout PubSubRPC) -> Void) {
        edit(&outbox[peer, default: PubSubRPC()])
    }

    private mutating func control(_ peer: PeerID, _ edit: (inout PubSubRPC.Control) -> Void) {
        queue(peer) { rpc in
            if rpc.control == nil { rpc.control = PubSubRPC.Control() }
            edit(&rpc.control!)
        }
    }

    private mutating func flush(_ actions: [Action] = []) -> [Action] {
        var out = actions
        let pending = outbox
        outbox = [:]
        for peer in pending.keys.sorted() where !(pending[peer]!.isEmpty) { out.append(.send(to: peer, pending[peer]!)) }
        return out
    }

    // MARK: peers and subscriptions

    /// A peer speaking the protocol connected: tell it our subscriptions.
    public mutating func addPeer(_ peer: PeerID) -> [Action] {
        guard peer != identity.peerID, peers[peer] == nil else { return [] }
        peers[peer] = PeerState()
        guard !subscriptions.isEmpty else { return [] }
        return [.send(to: peer, PubSubRPC(subscriptions: subscriptions.sorted().map { .init(subscribe: true, topic: $0) }))]
    }

    public mutating func removePeer(_ peer: PeerID) {
        for t in peers[peer]?.topics ?? [] { topicIndex[t]?.remove(peer) }
        peers[peer] = nil
        for t in mesh.keys { mesh[t]?.remove(peer) }
        for t in fanout.keys { fanout[t]?.remove(peer) }
    }

    /// Peers subscribed to `topic`, in a deterministic order.
    private func topicPeers(_ topic: String) -> [PeerID] {
        (topicIndex[topic] ?? []).sorted()
    }

    public mutating func subscribe(_ topic: String, now: NetworkInstant, rng: inout some RandomNumberGenerator) -> [Action] {
        guard subscriptions.insert(topic).inserted else { return [] }
        for p in peers.keys { queue(p) { $0.subscriptions.append(.init(subscribe: true, topic: topic)) } }
        // Join (v1.0 §"Subscribing"): start from fanout peers, fill up to D.
        var members = fanout.removeValue(forKey: topic) ?? []
        fanoutPublished[topic] = nil
        let candidates = topicPeers(topic).filter { !members.contains($0) && !inBackoff(topic, $0, now) && score(of: $0) >= 0 }
        for p in candidates.shuffled(using: &rng).prefix(max(0, configuration.d - members.count)) { members.insert(p) }
        mesh[topic] = members
        for p in members { control(p) { $0.graft.append(topic) } }
        return flush()
    }

    public mutating func unsubscribe(_ topic: String, now: NetworkInstant) -> [Action] {
        guard subscriptions.remove(topic) != nil else { return [] }
        for p in peers.keys { queue(p) { $0.subscriptions.append(.init(subscribe: false, topic: topic)) } }
        let seconds = pruneBackoffSeconds
        for p in mesh.removeValue(forKey: topic) ?? [] {
            setBackoff(topic, p, now)
            control(p) { $0.prune.append(.init(topic: topic, peers: [], backoff: seconds)) }
        }
        return flush()
    }

    private func inBackoff(_ topic: String, _ peer: PeerID, _ now: NetworkInstant) -> Bool {
        (backoff[topic]?[peer]).map { $0 > now } ?? false
    }

    private mutating func setBackoff(_ topic: String, _ peer: PeerID, _ now: NetworkInstant, _ d: Duration? = nil) {
        backoff[topic, default: [:]][peer] = now + (d ?? configuration.pruneBackoff)
    }

    // MARK: publishing

    /// Signs and sends a message; returns its id.
    public mutating func publish(_ topic: String, data: [UInt8], now: NetworkInstant, rng: inout some RandomNumberGenerator) throws -> ([UInt8], [Action]) {
        seqno &+= 1
        let message = try PubSubRPC.Message.signed(by: identity, data: data, seqno: seqno, topic: topic)
        remember(message, now)
        var targets: Set<PeerID>
        if configuration.floodPublish {
            targets = Set(topicPeers(topic).filter { score(of: $0) >= configuration.publishThreshold })
        } else if subscriptions.contains(topic) {
            targets = mesh[topic] ?? []
        } else {
            if (fanout[topic] ?? []).isEmpty {
                fanout[topic] = Set(topicPeers(topic).shuffled(using: &rng).prefix(configuration.d))
            }
            targets = fanout[topic] ?? []
        }
        if !subscriptions.contains(topic) { fanoutPublished[topic] = now }
        for p in targets { queue(p) { $0.messages.append(message) } }
        return (message.id, flush())
    }

    private mutating func remember(_ message: PubSubRPC.Message, _ now: NetworkInstant) {
        let id = HashedBytes(message.id)
        let expires = now + configuration.seenTTL
        seen[id] = expires
        seenOrder.append((id, expires))
        cache[id] = message
        history[0].append(CacheEntry(id: id, topic: message.topic))
    }

    // MARK: receiving

    public mutating func handle(_ rpc: PubSubRPC, from peer: PeerID, now: NetworkInstant) -> [Action] {
        guard peers[peer] != nil else { return [] }
        // Graylisted peers are ignored entirely (v1.1 §"Score Thresholds").
        guard score(of: peer) >= configuration.graylistThreshold else { return [] }
        var actions: [Action] = []
        for sub in rpc.subscriptions {
            if sub.subscribe {
                peers[peer]?.topics.insert(sub.topic)
                topicIndex[sub.topic, default: []].insert(peer)
            } else {
                peers[peer]?.topics.remove(sub.topic)
                topicIndex[sub.topic]?.remove(peer)
                mesh[sub.topic]?.remove(peer)
                fanout[sub.topic]?.remove(peer)
            }
        }
        for message in rpc.messages { actions += receive(message, from: peer, now: now) }
        if let control = rpc.control { handleControl(control, from: peer, now: now) }
        return flush(actions)
    }

    private mutating func receive(_ message: PubSubRPC.Message, from peer: PeerID, now: NetworkInstant) -> [Action] {
        if seen[HashedBytes(message.id)] != nil { return [] }  // duplicate
        guard message.data.count <= configuration.maxMessageSize, let author = validate(message) else {
            peers[peer]?.invalidMessages += 1
            return []
        }
        peers[peer]?.firstDeliveries += 1
        remember(message, now)
        var actions: [Action] = []
        if subscriptions.contains(message.topic) { actions.append(.deliver(message, author: author)) }
        // Forward to the mesh, never back to the sender or to the author.
        for p in mesh[message.topic] ?? [] where p != peer && p != author {
            queue(p) { $0.messages.append(message) }
        }
        return actions
    }

    private mutating func handleControl(_ control: PubSubRPC.Control, from peer: PeerID, now: NetworkInstant) {
        let seconds = pruneBackoffSeconds
        // IHAVE: ask for what we have not seen (bounded), unless the peer's score is too low.
        if score(of: peer) >= configuration.gossipThreshold {
            var wanted: [[UInt8]] = []
            for ih in control.ihave where subscriptions.contains(ih.topic) {
                for id in ih.messageIDs where wanted.count < configuration.maxIHaveMessages && seen[HashedBytes(id)] == nil {
                    wanted.append(id)
                }
            }
            if !wanted.isEmpty { self.control(peer) { $0.iwant += wanted } }
        }
        // IWANT: answer from the message cache.
        var sent = 0
        for id in control.iwant where sent < configuration.maxIHaveMessages {
            if let m = cache[HashedBytes(id)] { queue(peer) { $0.messages.append(m) }; sent += 1 }
        }
        // GRAFT: accept unless unsubscribed, backing off, or the peer's score is negative.
        for topic in control.graft {
            guard subscriptions.contains(topic) else {
                self.control(peer) { $0.prune.append(.init(topic: topic, peers: [], backoff: nil)) }
                continue
            }
            if inBackoff(topic, peer, now) {
                peers[peer]?.behaviourPenalty += 1
                setBackoff(topic, peer, now)
                self.control(peer) { $0.prune.append(.init(topic: topic, peers: [], backoff: seconds)) }
            } else if score(of: peer) < 0 {
                self.control(peer) { $0.prune.append(.init(topic: topic, peers: [], backoff: seconds)) }
            } else {
                peers[peer]?.topics.insert(topic)
                topicIndex[topic, default: []].insert(peer)
                mesh[topic, default: []].insert(peer)
            }
        }
        for p in control.prune {
            mesh[p.topic]?.remove(peer)
            setBackoff(p.topic, peer, now, p.backoff.map { .seconds(Int64(min($0, 3600))) })
        }
    }

    private mutating func expireSeen(_ now: NetworkInstant) {
        while seenOrderHead < seenOrder.count, seenOrder[seenOrderHead].expires <= now {
            let (id, expires) = seenOrder[seenOrderHead]
            if seen[id] == expires { seen[id] = nil }  // not re-seen with a later expiry
            seenOrderHead += 1
        }
        if seenOrderHead > 4096 && seenOrderHead * 2 > seenOrder.count {
            seenOrder.removeFirst(seenOrderHead)
            seenOrderHead = 0
        }
    }

    // MARK: heartbeat

    public mutating func heartbeat(now: NetworkInstant, rng: inout some RandomNumberGenerator) -> [Action] {
        let c = configuration
        for topic in mesh.keys.sorted() {
            var members = mesh[topic] ?? []
            for p in members where score(of: p) < 0 || peers[p] == nil { members.remove(p) }
            if members.count < c.dLow {
                let candidates = topicPeers(topic).filter { !members.contains($0) && !inBackoff(topic, $0, now) && score(of: $0) >= 0 }
                for p in candidates.shuffled(using: &rng).prefix(c.d - members.count) {
                    members.insert(p)
                    control(p) { $0.graft.append(topic) }
                }
            } else if members.count > c.dHigh {
                let byScore = members.sorted { score(of: $0) > score(of: $1) }
                var keep = Set(byScore.prefix(c.dScore))
                for p in byScore.dropFirst(c.dScore).shuffled(using: &rng).prefix(c.d - c.dScore) { keep.insert(p) }
                let seconds = pruneBackoffSeconds
                for p in members.subtracting(keep) {
                    setBackoff(topic, p, now)
                    control(p) { $0.prune.append(.init(topic: topic, peers: [], backoff: seconds)) }
                }
                members = keep
            }
            mesh[topic] = members
        }
        for (topic, last) in fanoutPublished where now - last > c.fanoutTTL {
            fanout[topic] = nil
            fanoutPublished[topic] = nil
        }
        // Gossip: IHAVE for recent messages to D_lazy topic peers outside the mesh.
        var recent: [String: [[UInt8]]] = [:]
        for window in history.prefix(c.historyGossip) { for e in window { recent[e.topic, default: []].append(e.id.bytes) } }
        for topic in recent.keys.sorted() where subscriptions.contains(topic) || fanout[topic] != nil {
            let exclude = (mesh[topic] ?? []).union(fanout[topic] ?? [])
            let targets = topicPeers(topic).filter { !exclude.contains($0) && score(of: $0) >= c.gossipThreshold }
            let ids = Array(recent[topic]!.suffix(c.maxIHaveMessages))
            for p in targets.shuffled(using: &rng).prefix(c.dLazy) {
                control(p) { $0.ihave.append(.init(topic: topic, messageIDs: ids)) }
            }
        }
        // Shift the message cache; expire seen ids, backoffs; decay scores.
        for e in history.removeLast() { cache[e.id] = nil }
        history.insert([], at: 0)
        expireSeen(now)
        for t in backoff.keys { backoff[t] = backoff[t]!.filter { $0.value > now } }
        for p in peers.keys {
            peers[p]!.firstDeliveries *= c.scoreDecay
            peers[p]!.invalidMessages *= c.scoreDecay
            peers[p]!.behaviourPenalty *= c.scoreDecay
        }
        return flush()
    }
}

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
        /// Behaviour penalties a peer may collect before they count (v1.1 P7's threshold): a
        /// peer slowed by a busy machine that misses one IWANT follow-up or GRAFTs a heartbeat
        /// early is not thrown out of every mesh; repeated misbehaviour is.
        public var behaviourPenaltyThreshold = 6.0
        public var scoreDecay = 0.9

        // MARK: bounds on what peers can make a node hold (SPEC §8.1; gossipsub v1.1 §"Spam Protection")

        /// Longest topic name (UTF-8 bytes) accepted from a peer; longer ones are ignored.
        public var maxTopicLength = 512
        /// An extra check on topic names peers announce (VIVIM nodes pass `Topic.isValid`);
        /// a name it refuses is ignored as if never sent.
        public var acceptsTopic: (@Sendable (String) -> Bool)? = nil
        /// Topics one peer can be recorded as subscribed to (per peer).
        public var maxSubscriptionsPerPeer = 2_048
        /// Distinct topics other peers are recorded as subscribed to (per node); the topics
        /// this node subscribes to itself are always recorded.
        public var maxPeerTopics = 20_000
        /// Longest PRUNE backoff honoured: a peer's value is clamped to it before any arithmetic.
        public var maxPruneBackoff: Duration = .seconds(3_600)
        /// Backoff entries kept (per node). Only topics this node subscribes to get one, so
        /// one peer holds at most one per own subscription.
        public var maxBackoffEntries = 65_536
        /// Message ids in one IHAVE this node sends, and ids it asks one peer for per heartbeat
        /// (go-libp2p `GossipSubMaxIHaveLength`).
        public var maxIHaveLength = 5_000
        /// IHAVE entries accepted from one peer per heartbeat (go-libp2p `GossipSubMaxIHaveMessages`).
        public var maxIHaveMessages = 10
        /// Times one message is sent to one peer in answer to IWANT (`GossipSubGossipRetransmission`).
        public var gossipRetransmission = 3
        /// IWANT follow-up (v1.1 §"Spam Protection"): a peer whose IHAVE we answered with IWANT
        /// must deliver one of the asked messages within this time, or gets a behaviour penalty.
        public var iwantFollowupTime: Duration = .seconds(3)
        /// Such pending promises kept (per node; at most one per IWANT sent, so per peer at most
        /// `maxIHaveMessages` a heartbeat, each gone after `iwantFollowupTime`).
        public var maxPromises = 65_536
        /// Longest message id accepted in IHAVE/IWANT or as a message's id (`from ‖ seqno` is ~46 bytes).
        public var maxMessageIDLength = 256
        /// Seen-message ids kept (per node), in count and id bytes; the oldest go first.
        public var maxSeenMessages = 1 << 20
        public var maxSeenBytes = 64 << 20
        /// Messages (and their encoded bytes) the IWANT cache holds (per node); beyond, a message
        /// is still delivered and forwarded but not offered to gossip.
        public var maxCachedMessages = 65_536
        public var maxCachedBytes = 64 << 20

        // MARK: limits the `PubSubService` shell applies

        /// Unsent RPCs and bytes queued for one peer; a peer that falls further behind is
        /// dropped from gossipsub (its stream reset, its router state removed).
        public var maxQueuedRPCsPerPeer = 16_384
        public var maxQueuedBytesPerPeer = 8 << 20
        /// Signature outcomes remembered (per node): valid ones, and the digests of invalid ones,
        /// each for at most `seenTTL`. No payload is kept, only a digest of the message.
        public var maxVerifiedMessages = 1 << 15
        public var maxInvalidMessages = 4_096

        public init() {}

        /// Whether a topic name a peer sent may enter the router's state.
        public func accepts(topic: String) -> Bool {
            let utf8 = topic.utf8
            guard !utf8.isEmpty, utf8.count <= maxTopicLength, !utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return false }
            return acceptsTopic?(topic) ?? true
        }
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
        /// IHAVE entries received and message ids asked for since the last heartbeat.
        var ihavesReceived = 0
        var idsAsked = 0
    }

    struct CacheEntry: Sendable { let id: HashedBytes; let topic: String }

    /// A cached message and how often each peer got it in answer to IWANT.
    struct CachedMessage: Sendable {
        let message: PubSubRPC.Message
        let size: Int
        var transmissions: [PeerID: Int] = [:]
    }

    /// How much state the router holds: what the per-peer and per-node bounds apply to.
    public struct StateSize: Equatable, Sendable {
        public var peers = 0
        /// Distinct topics peers are recorded as subscribed to, and (peer, topic) pairs.
        public var topics = 0
        public var subscriptions = 0
        public var backoffTopics = 0
        public var backoffEntries = 0
        public var seenMessages = 0
        public var seenBytes = 0
        public var cachedMessages = 0
        public var cachedBytes = 0
        public var meshTopics = 0
        public var fanoutTopics = 0
        public var promises = 0
    }

    public let identity: PeerKeyPair
    public let configuration: Configuration
    private var peers: [PeerID: PeerState] = [:]
    /// Topic → peers subscribed to it (an index over `peers[_].topics`); no key maps to an empty set.
    private var topicIndex: [String: Set<PeerID>] = [:]
    public private(set) var subscriptions: Set<String> = []
    public private(set) var mesh: [String: Set<PeerID>] = [:]
    private var fanout: [String: Set<PeerID>] = [:]
    private var fanoutPublished: [String: NetworkInstant] = [:]
    /// Topic → peer → end of its backoff; no key maps to an empty dictionary.
    private var backoff: [String: [PeerID: NetworkInstant]] = [:]
    private var backoffCount = 0
    private var history: [[CacheEntry]]
    private var cache: [HashedBytes: CachedMessage] = [:]
    private var cachedBytes = 0
    /// Message ids seen, with their expiry; `seenOrder` holds the same ids in expiry order
    /// (a FIFO, since every id gets the same TTL) so the heartbeat expires in O(expired),
    /// not by rebuilding the whole set (10,000 messages/s × 120 s = 1.2 M ids).
    private var seen: [HashedBytes: NetworkInstant] = [:]
    private var seenBytes = 0
    private var seenOrder: [(id: HashedBytes, expires: NetworkInstant)] = []
    private var seenOrderHead = 0
    /// IWANT follow-up: message id → peer → deadline by which it must arrive.
    private var promises: [HashedBytes: [PeerID: NetworkInstant]] = [:]
    private var promiseCount = 0
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

    public var stateSize: StateSize {
        StateSize(peers: peers.count, topics: topicIndex.count,
                  subscriptions: peers.values.reduce(0) { $0 + $1.topics.count },
                  backoffTopics: backoff.count, backoffEntries: backoffCount,
                  seenMessages: seen.count, seenBytes: seenBytes,
                  cachedMessages: cache.count, cachedBytes: cachedBytes,
                  meshTopics: mesh.count, fanoutTopics: fanout.count, promises: promiseCount)
    }

    public func score(of peer: PeerID) -> Double {
        guard let p = peers[peer] else { return 0 }
        let c = configuration
        return c.firstDeliveryWeight * min(p.firstDeliveries, c.firstDeliveryCap)
            + c.invalidMessageWeight * p.invalidMessages * p.invalidMessages
            + c.behaviourPenaltyWeight * pow2(max(0, p.behaviourPenalty - c.behaviourPenaltyThreshold))
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

    /// A peer left: everything recorded about it goes, except the backoffs (v1.1: they outlive
    /// a reconnect; they are bounded and expire).
    public mutating func removePeer(_ peer: PeerID) {
        for t in peers[peer]?.topics ?? [] { unindex(t, peer) }
        peers[peer] = nil
        for t in mesh.keys { mesh[t]?.remove(peer) }
        for t in fanout.keys { fanout[t]?.remove(peer) }
        for (id, entry) in cache where entry.transmissions[peer] != nil { cache[id]?.transmissions[peer] = nil }
        for (id, byPeer) in promises where byPeer[peer] != nil { forgetPromise(id, peer) }
    }

    /// Records that `peer` subscribes to `topic` if the name is acceptable and the per-peer and
    /// per-node bounds allow it (topics this node subscribes to always fit). The stored name
    /// shares the index key's storage, so N peers on one topic hold its bytes once.
    @discardableResult
    private mutating func recordSubscription(_ peer: PeerID, _ topic: String) -> Bool {
        guard let state = peers[peer] else { return false }
        if state.topics.contains(topic) { return true }
        let own = subscriptions.contains(topic)
        guard own || configuration.accepts(topic: topic) else { return false }
        guard own || state.topics.count < configuration.maxSubscriptionsPerPeer else { return false }
        var name = topic
        if let i = topicIndex.index(forKey: topic) {
            name = topicIndex.keys[i]
        } else if !own && topicIndex.count >= configuration.maxPeerTopics {
            return false
        }
        peers[peer]!.topics.insert(name)
        topicIndex[name, default: []].insert(peer)
        return true
    }

    private mutating func unindex(_ topic: String, _ peer: PeerID) {
        guard var members = topicIndex.removeValue(forKey: topic) else { return }
        members.remove(peer)
        if !members.isEmpty { topicIndex[topic] = members }
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

    /// Starts or extends a backoff (never shortens one); refused when the node-wide table is full.
    private mutating func setBackoff(_ topic: String, _ peer: PeerID, _ now: NetworkInstant, _ d: Duration? = nil) {
        let until = now + (d ?? configuration.pruneBackoff)
        if let current = backoff[topic]?[peer] {
            if until > current { backoff[topic]![peer] = until }
            return
        }
        guard backoffCount < configuration.maxBackoffEntries else { return }
        backoff[topic, default: [:]][peer] = until
        backoffCount += 1
    }

    /// Removes expired backoffs and the topics left without any.
    private mutating func expireBackoff(_ now: NetworkInstant) {
        for topic in Array(backoff.keys) {
            let live = backoff[topic]!.filter { $0.value > now }
            backoffCount -= backoff[topic]!.count - live.count
            backoff[topic] = live.isEmpty ? nil : live
        }
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

    /// Marks a valid message as seen and caches it for IWANT, within the count and byte bounds.
    private mutating func remember(_ message: PubSubRPC.Message, _ now: NetworkInstant) {
        let id = HashedBytes(message.id)
        let expires = now + configuration.seenTTL
        if seen.updateValue(expires, forKey: id) == nil { seenBytes += id.bytes.count }
        seenOrder.append((id, expires))
        evictSeen()
        let size = message.encoded.count
        guard cache[id] == nil, cache.count < configuration.maxCachedMessages,
              cachedBytes + size <= configuration.maxCachedBytes else { return }
        cache[id] = CachedMessage(message: message, size: size)
        cachedBytes += size
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
                recordSubscription(peer, sub.topic)
            } else if peers[peer]!.topics.remove(sub.topic) != nil {
                unindex(sub.topic, peer)
                mesh[sub.topic]?.remove(peer)
                fanout[sub.topic]?.remove(peer)
            }
        }
        for message in rpc.messages { actions += receive(message, from: peer, now: now) }
        if let control = rpc.control { handleControl(control, from: peer, now: now) }
        return flush(actions)
    }

    private mutating func receive(_ message: PubSubRPC.Message, from peer: PeerID, now: NetworkInstant) -> [Action] {
        // Only topics this node subscribes to are delivered or forwarded (it has no mesh for
        // others), so others are dropped before the signature check and never cached.
        guard subscriptions.contains(message.topic) else { return [] }
        let idLength = message.from.count + message.seqno.count
        if idLength <= configuration.maxMessageIDLength, seen[HashedBytes(message.id)] != nil { return [] }  // duplicate
        guard idLength <= configuration.maxMessageIDLength, message.data.count <= configuration.maxMessageSize,
              let author = validate(message) else {
            peers[peer]?.invalidMessages += 1
            return []
        }
        peers[peer]?.firstDeliveries += 1
        remember(message, now)
        if let kept = promises.removeValue(forKey: HashedBytes(message.id)) { promiseCount -= kept.count }
        // Forward to the mesh, never back to the sender or to the author.
        for p in mesh[message.topic] ?? [] where p != peer && p != author {
            queue(p) { $0.messages.append(message) }
        }
        return [.deliver(message, author: author)]
    }

    private mutating func handleControl(_ control: PubSubRPC.Control, from peer: PeerID, now: NetworkInstant) {
        let c = configuration
        let seconds = pruneBackoffSeconds
        // IHAVE: ask for what we have not seen, at most `maxIHaveMessages` IHAVEs and
        // `maxIHaveLength` ids per peer per heartbeat (v1.1 §"Spam Protection"), and only
        // from peers whose score is above the gossip threshold.
        if score(of: peer) >= c.gossipThreshold {
            var wanted: [[UInt8]] = []
            var asked = Set<HashedBytes>()
            for ih in control.ihave {
                guard peers[peer]!.ihavesReceived < c.maxIHaveMessages else { break }
                peers[peer]!.ihavesReceived += 1
                guard subscriptions.contains(ih.topic) else { continue }
                for id in ih.messageIDs where id.count <= c.maxMessageIDLength {
                    guard peers[peer]!.idsAsked < c.maxIHaveLength else { break }
                    let key = HashedBytes(id)
                    guard seen[key] == nil, asked.insert(key).inserted else { continue }
                    wanted.append(id)
                    peers[peer]!.idsAsked += 1
                }
            }
            if !wanted.isEmpty {
                self.control(peer) { $0.iwant += wanted }
                // One of the asked ids (varying with the clock) must then arrive in time.
                let id = HashedBytes(wanted[Int(now.nanoseconds % UInt64(wanted.count))])
                if promiseCount < c.maxPromises, promises[id]?[peer] == nil {
                    promises[id, default: [:]][peer] = now + c.iwantFollowupTime
                    promiseCount += 1
                }
            }
        }
        // IWANT: answer from the message cache, each message at most `gossipRetransmission`
        // times to one peer.
        for id in control.iwant.prefix(c.maxIHaveLength) where id.count <= c.maxMessageIDLength {
            let key = HashedBytes(id)
            guard let entry = cache[key], entry.transmissions[peer, default: 0] < c.gossipRetransmission else { continue }
            cache[key]!.transmissions[peer, default: 0] += 1
            queue(peer) { $0.messages.append(entry.message) }
        }
        // GRAFT: topics this node does not subscribe to are ignored (go-libp2p's spam
        // hardening: answering each with a PRUNE would amplify); otherwise accept unless
        // backing off or the peer's score is negative.
        var grafted = Set<String>()
        for topic in control.graft where subscriptions.contains(topic) && grafted.insert(topic).inserted {
            if inBackoff(topic, peer, now) {
                peers[peer]?.behaviourPenalty += 1
                setBackoff(topic, peer, now)
                self.control(peer) { $0.prune.append(.init(topic: topic, peers: [], backoff: seconds)) }
            } else if score(of: peer) < 0 {
                self.control(peer) { $0.prune.append(.init(topic: topic, peers: [], backoff: seconds)) }
            } else {
                recordSubscription(peer, topic)
                mesh[topic, default: []].insert(peer)
            }
        }
        // PRUNE: only a mesh of ours can be pruned; the backoff the peer asks for is clamped
        // to `maxPruneBackoff` before any arithmetic (v1.1 §"Prune Backoff"). Peer exchange
        // records are not acted on.
        for p in control.prune where subscriptions.contains(p.topic) {
            mesh[p.topic]?.remove(peer)
            setBackoff(p.topic, peer, now, p.backoff.map { .seconds(untrusted: $0, atMost: c.maxPruneBackoff) })
        }
    }

    private mutating func forgetPromise(_ id: HashedBytes, _ peer: PeerID) {
        guard promises[id]?.removeValue(forKey: peer) != nil else { return }
        promiseCount -= 1
        if promises[id]?.isEmpty == true { promises[id] = nil }
    }

    /// Each IWANT promise past its deadline costs its peer a behaviour penalty (P7).
    private mutating func expirePromises(_ now: NetworkInstant) {
        for (id, byPeer) in promises {
            for (peer, deadline) in byPeer where deadline <= now {
                peers[peer]?.behaviourPenalty += 1
                forgetPromise(id, peer)
            }
        }
    }

    /// Drops the oldest seen ids while the count or byte bound is exceeded.
    private mutating func evictSeen() {
        while seen.count > configuration.maxSeenMessages || seenBytes > configuration.maxSeenBytes,
              seenOrderHead < seenOrder.count {
            dropSeenHead()
        }
        compactSeenOrder()
    }

    private mutating func dropSeenHead() {
        let (id, expires) = seenOrder[seenOrderHead]
        if seen[id] == expires {  // not re-seen with a later expiry
            seen[id] = nil
            seenBytes -= id.bytes.count
        }
        seenOrderHead += 1
    }

    private mutating func compactSeenOrder() {
        if seenOrderHead > 4096 && seenOrderHead * 2 > seenOrder.count {
            seenOrder.removeFirst(seenOrderHead)
            seenOrderHead = 0
        }
    }

    private mutating func expireSeen(_ now: NetworkInstant) {
        while seenOrderHead < seenOrder.count, seenOrder[seenOrderHead].expires <= now { dropSeenHead() }
        compactSeenOrder()
    }

    // MARK: heartbeat

    public mutating func heartbeat(now: NetworkInstant, rng: inout some RandomNumberGenerator) -> [Action] {
        let c = configuration
        for topic in mesh.keys.sorted() {
            var members = mesh[topic] ?? []
            for p in members where score(of: p) < 0 || peers[p] == nil { members.remove(p) }
            if members.count < c.dLow {
                let candidates = topicPeers(topic).filter { !members.contains($0) && !inBackoff(topic, $0, now) && score(of: $0) >= 0 }
                for p in candidates.shuffled(using: &rng).prefix(max(0, c.d - members.count)) {
                    members.insert(p)
                    control(p) { $0.graft.append(topic) }
                }
            } else if members.count > c.dHigh {
                let byScore = members.sorted { score(of: $0) > score(of: $1) }
                var keep = Set(byScore.prefix(c.dScore))
                for p in byScore.dropFirst(c.dScore).shuffled(using: &rng).prefix(max(0, c.d - c.dScore)) { keep.insert(p) }
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
            let ids = Array(recent[topic]!.suffix(c.maxIHaveLength))
            for p in targets.shuffled(using: &rng).prefix(c.dLazy) {
                control(p) { $0.ihave.append(.init(topic: topic, messageIDs: ids)) }
            }
        }
        // Shift the message cache; expire seen ids, backoffs; decay scores; reset the
        // per-heartbeat gossip allowances.
        for e in history.removeLast() {
            if let gone = cache.removeValue(forKey: e.id) { cachedBytes -= gone.size }
        }
        history.insert([], at: 0)
        expireSeen(now)
        expireBackoff(now)
        expirePromises(now)
        for p in peers.keys {
            peers[p]!.firstDeliveries *= c.scoreDecay
            peers[p]!.invalidMessages *= c.scoreDecay
            peers[p]!.behaviourPenalty *= c.scoreDecay
            peers[p]!.ihavesReceived = 0
            peers[p]!.idsAsked = 0
        }
        return flush()
    }
}

private func pow2(_ x: Double) -> Double { x * x }

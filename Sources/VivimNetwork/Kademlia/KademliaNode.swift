/// The Kademlia DHT of one node as a Sans-IO state machine (libp2p/specs
/// kad-dht; SPEC §8.2). It never touches sockets or clocks: the shell (a real
/// host or the simulation) passes in requests, responses, failures and the
/// current time, and executes the returned ``Action``s.
public struct KademliaNode: Sendable {
    public struct Configuration: Sendable {
        public var k = 20
        public var alpha = 3
        public var requestTimeout: Duration = .seconds(10)
        /// Provider records are kept this long after their last announcement.
        public var providerTTL: Duration = .seconds(48 * 3600)
        public var providerRepublishInterval: Duration = .seconds(22 * 3600)
        public var recordTTL: Duration = .seconds(48 * 3600)
        public var recordRepublishInterval: Duration = .seconds(22 * 3600)
        public var bucketRefreshInterval: Duration = .seconds(10 * 60)
        /// Bounds on what other peers can make this node store.
        public var maxProvidersPerKey = 64
        public var maxProviderKeys = 100_000
        public var maxRecords = 100_000
        public var maxRecordValueLength = 64 * 1024
        public init() {}
    }

    public typealias QueryID = UInt64
    public typealias RequestID = UInt64

    public enum QueryKind: Sendable, Equatable {
        case findNode
        case getProviders(wanted: Int)
        case getValue
        /// FIND_NODE, then ADD_PROVIDER to the k closest.
        case provide
        /// FIND_NODE, then PUT_VALUE to the k closest.
        case putValue(KadMessage.Record)
    }

    public struct QueryResult: Sendable {
        public let kind: QueryKind
        public let key: [UInt8]
        /// The closest peers that answered, nearest first (at most k).
        public let closest: [PeerID]
        public let providers: [KadMessage.Peer]
        public let value: KadMessage.Record?
        /// Depth of the chain of queries that reached the closest answering peer (≥ 1).
        public let hops: Int
        public let messagesSent: Int
    }

    public enum Action: Sendable {
        /// Send `message` to `peer` and report the answer with `handleResponse` / `handleFailure`.
        case request(RequestID, to: PeerID, addrs: [Multiaddr], KadMessage)
        /// Fire-and-forget message (ADD_PROVIDER has no response).
        case send(to: PeerID, addrs: [Multiaddr], KadMessage)
        case queryFinished(QueryID, QueryResult)
    }

    struct ProviderEntry: Sendable { var addrs: [Multiaddr]; var expires: NetworkInstant }
    struct StoredRecord: Sendable { var record: KadMessage.Record; var expires: NetworkInstant }

    struct Query: Sendable {
        var kind: QueryKind
        var key: [UInt8]
        var lookup: KadLookup
        var providers: [PeerID: KadMessage.Peer] = [:]
        var value: KadMessage.Record?
    }

    struct PendingRequest: Sendable { var query: QueryID?; var peer: PeerID; var deadline: NetworkInstant }

    public let localPeer: PeerID
    public let localKey: KadKey
    public var localAddrs: [Multiaddr]
    public let configuration: Configuration
    public private(set) var routingTable: RoutingTable
    private var providers: [[UInt8]: [PeerID: ProviderEntry]] = [:]
    private var records: [[UInt8]: StoredRecord] = [:]
    private var queries: [QueryID: Query] = [:]
    private var pending: [RequestID: PendingRequest] = [:]
    private var nextQuery: QueryID = 1
    private var nextRequest: RequestID = 1
    /// Keys this node provides / records it published, with the time of the last (re)announcement.
    private var provided: [[UInt8]: NetworkInstant] = [:]
    private var published: [[UInt8]: (KadMessage.Record, NetworkInstant)] = [:]

    public init(localPeer: PeerID, localAddrs: [Multiaddr] = [], configuration: Configuration = .init()) {
        self.localPeer = localPeer
        self.localKey = KadKey(peer: localPeer)
        self.localAddrs = localAddrs
        self.configuration = configuration
        self.routingTable = RoutingTable(localKey: localKey, k: configuration.k)
    }

    public var activeQueries: Int { queries.count }
    public var pendingRequests: Int { pending.count }

    /// Adds a peer learned out of band (bootstrap list, identify).
    public mutating func addPeer(_ peer: PeerID, addrs: [Multiaddr] = [], now: NetworkInstant) {
        guard peer != localPeer else { return }
        routingTable.seen(peer, addrs: addrs, at: now)
    }

    // MARK: serving requests

    /// Answers an inbound request from `sender` (the authenticated remote peer).
    /// Returns the response, or nil for messages without one (ADD_PROVIDER).
    public mutating func handleRequest(from sender: PeerID, addrs: [Multiaddr] = [], _ message: KadMessage, now: NetworkInstant) -> KadMessage? {
        if sender != localPeer { routingTable.seen(sender, addrs: addrs, at: now) }
        let key = message.key
        switch message.type {
        case .ping:
            return KadMessage(type: .ping)
        case .findNode:
            return KadMessage(type: .findNode, key: key, closerPeers: closerPeers(to: KadKey(hashing: key), excluding: sender))
        case .getProviders:
            let found = (providers[key] ?? [:]).filter { $0.value.expires > now }
                .map { KadMessage.Peer(id: $0.key, addrs: $0.value.addrs) }
            return KadMessage(type: .getProviders, key: key, closerPeers: closerPeers(to: KadKey(hashing: key), excluding: sender),
                              providerPeers: Array(found.prefix(configuration.k)))
        case .addProvider:
            // Only the sender may announce itself as a provider (kad-dht: "the
            // provider peer id must match the sender").
            for p in message.providerPeers where p.id == sender {
                storeProvider(key: key, peer: p.id, addrs: p.addrs.isEmpty ? addrs : p.addrs, now: now)
            }
            return nil
        case .putValue:
            guard var record = message.record, record.key == key, record.value.count <= configuration.maxRecordValueLength,
                  records[key] != nil || records.count < configuration.maxRecords,
                  let value = Self.validated(key: key, value: record.value, existing: records[key]?.record.value) else { return nil }
            record.value = value
            records[key] = StoredRecord(record: record, expires: now + configuration.recordTTL)
            return message
        case .getValue:
            let stored = records[key].flatMap { $0.expires > now ? $0.record : nil }
            return KadMessage(type: .getValue, key: key, record: stored,
                              closerPeers: closerPeers(to: KadKey(hashing: key), excluding: sender))
        }
    }

    /// Record validation by namespace (as libp2p's record validators): VIVIM content
    /// records (``ContentRecord/keyPrefix``) must decode, name the key they are stored
    /// under and carry only valid provider signatures; a new one is merged with the one
    /// stored. Returns the value to store, or nil to reject. Other keys are stored as sent.
    static func validated(key: [UInt8], value: [UInt8], existing: [UInt8]?) -> [UInt8]? {
        guard key.starts(with: ContentRecord.keyPrefix) else { return value }
        guard let incoming = try? ContentRecord(decoding: value), incoming.key == key, incoming.isValid() else { return nil }
        guard let existing, let stored = try? ContentRecord(decoding: existing) else { return incoming.encoded }
        return ContentRecord.merge(stored, incoming).encoded
    }

    private func closerPeers(to target: KadKey, excluding: PeerID) -> [KadMessage.Peer] {
        routingTable.closest(to: target, count: configuration.k + 1)
            .lazy.filter { $0.peer != excluding }.prefix(configuration.k)
            .map { KadMessage.Peer(id: $0.peer, addrs: $0.addrs) }
    }

    private mutating func storeProvider(key: [UInt8], peer: PeerID, addrs: [Multiaddr], now: NetworkInstant) {
        guard providers[key] != nil || providers.count < configuration.maxProviderKeys else { return }
        var entries = providers[key] ?? [:]
        guard entries[peer] != nil || entries.count < configuration.maxProvidersPerKey else { return }
        entries[peer] = ProviderEntry(addrs: addrs, expires: now + configuration.providerTTL)
        providers[key] = entries
    }

    public func localProviders(for key: [UInt8]) -> [PeerID] { Array((providers[key] ?? [:]).keys) }
    public func localRecord(for key: [UInt8]) -> KadMessage.Record? { records[key]?.record }

    // MARK: queries

    /// Starts a query; the returned actions contain its first requests.
    public mutating func startQuery(_ kind: QueryKind, key: [UInt8], now: NetworkInstant) -> (QueryID, [Action]) {
        let id = nextQuery
        nextQuery += 1
        var actions: [Action] = []
        switch kind {
        case .provide:
            provided[key] = now
            storeProvider(key: key, peer: localPeer, addrs: localAddrs, now: now)
        case .putValue(var record):
            published[key] = (record, now)
            record.value = Self.validated(key: key, value: record.value, existing: records[key]?.record.value) ?? record.value
            records[key] = StoredRecord(record: record, expires: now + configuration.recordTTL)
        case .getProviders, .getValue, .findNode:
            break
        }
        let target = KadKey(hashing: key)
        let seeds = routingTable.closest(to: target, count: configuration.k).map { ($0.peer, $0.addrs) }
        var query = Query(kind: kind, key: key, lookup: KadLookup(target: target, localPeer: localPeer, seeds: seeds,
                                                                   k: configuration.k, alpha: configuration.alpha))
        if case .getProviders = kind {
            for p in providers[key] ?? [:] { query.providers[p.key] = KadMessage.Peer(id: p.key, addrs: p.value.addrs) }
        }
        if case .getValue = kind, let local = records[key] { query.value = local.record }
        queries[id] = query
        actions += advance(id, now: now)
        return (id, actions)
    }

    private func requestMessage(for query: Query) -> KadMessage {
        switch query.kind {
        case .findNode, .provide, .putValue: KadMessage(type: .findNode, key: query.key)
        case .getProviders: KadMessage(type: .getProviders, key: query.key)
        case .getValue: KadMessage(type: .getValue, key: query.key)
        }
    }

    private mutating func advance(_ id: QueryID, now: NetworkInstant) -> [Action] {
        guard var query = queries[id] else { return [] }
        var done = query.lookup.isFinished
        if case .getProviders(let wanted) = query.kind, query.providers.count >= wanted { done = true }
        if case .getValue = query.kind, query.value != nil { done = true }
        if done { return finish(id, now: now) }
        var actions: [Action] = []
        let message = requestMessage(for: query)
        for c in query.lookup.nextQueries() {
            let rid = nextRequest
            nextRequest += 1
            pending[rid] = PendingRequest(query: id, peer: c.peer, deadline: now + configuration.requestTimeout)
            actions.append(.request(rid, to: c.peer, addrs: c.addrs, message))
        }
        queries[id] = query
        if actions.isEmpty && pending.values.allSatisfy({ $0.query != id }) { return finish(id, now: now) }
        return actions
    }

    private mutating func finish(_ id: QueryID, now: NetworkInstant) -> [Action] {
        guard let query = queries.removeValue(forKey: id) else { return [] }
        for (rid, p) in pending where p.query == id { pending[rid] = nil }
        let closest = query.lookup.closestSucceeded
        var actions: [Action] = []
        switch query.kind {
        case .provide:
            let me = KadMessage.Peer(id: localPeer, addrs: localAddrs)
            for c in closest {
                actions.append(.send(to: c.peer, addrs: c.addrs, KadMessage(type: .addProvider, key: query.key, providerPeers: [me])))
            }
        case .putValue(let record):
            for c in closest {
                let rid = nextRequest
                nextRequest += 1
                pending[rid] = PendingRequest(query: nil, peer: c.peer, deadline: now + configuration.requestTimeout)
                actions.append(.request(rid, to: c.peer, addrs: c.addrs, KadMessage(type: .putValue, key: query.key, record: record)))
            }
        default:
            break
        }
        let hops = (closest.first?.depth ?? -1) + 1
        actions.append(.queryFinished(id, QueryResult(
            kind: query.kind, key: query.key, closest: closest.map(\.peer),
            providers: Array(query.providers.values), value: query.value, hops: hops,
            messagesSent: query.lookup.messagesSent)))
        return actions
    }

    /// The response to request `id` arrived.
    public mutating func handleResponse(_ id: RequestID, _ message: KadMessage, now: NetworkInstant) -> [Action] {
        guard let request = pending.removeValue(forKey: id) else { return [] }
        routingTable.seen(request.peer, at: now)
        guard let qid = request.query, var query = queries[qid] else { return [] }
        let closer = message.closerPeers.filter { $0.id != localPeer }
        for p in closer.prefix(configuration.k) { routingTable.seen(p.id, addrs: p.addrs, at: now) }
        query.lookup.succeeded(request.peer, closer: closer.prefix(configuration.k).map { ($0.id, $0.addrs) })
        if case .getProviders = query.kind {
            for p in message.providerPeers.prefix(configuration.maxProvidersPerKey) where query.providers[p.id] == nil {
                query.providers[p.id] = p
            }
        }
        if case .getValue = query.kind, query.value == nil, let record = message.record, record.key == query.key,
           Self.validated(key: record.key, value: record.value, existing: nil) != nil {
            query.value = record
        }
        queries[qid] = query
        return advance(qid, now: now)
    }

    /// Request `id` failed (timeout, connection error, undecodable response).
    public mutating func handleFailure(_ id: RequestID, now: NetworkInstant) -> [Action] {
        guard let request = pending.removeValue(forKey: id) else { return [] }
        routingTable.remove(request.peer)
        guard let qid = request.query, var query = queries[qid] else { return [] }
        query.lookup.failed(request.peer)
        queries[qid] = query
        return advance(qid, now: now)
    }

    // MARK: time

    /// Earliest request deadline, so a shell knows when to call ``tick(now:)``.
    public var nextDeadline: NetworkInstant? { pending.values.map(\.deadline).min() }

    /// Times out overdue requests, expires records, republishes, refreshes buckets.
    public mutating func tick(now: NetworkInstant, rng: inout some RandomNumberGenerator) -> [Action] {
        var actions: [Action] = []
        for (rid, p) in pending where p.deadline <= now {
            actions += handleFailure(rid, now: now)
        }
        expire(now)
        for (key, last) in provided where now - last >= configuration.providerRepublishInterval {
            actions += startQuery(.provide, key: key, now: now).1
        }
        for (key, entry) in published where now - entry.1 >= configuration.recordRepublishInterval {
            actions += startQuery(.putValue(entry.0), key: key, now: now).1
        }
        let cutoff = NetworkInstant(nanoseconds: now.nanoseconds &- min(now.nanoseconds, configuration.bucketRefreshInterval.nanoseconds))
        if now.nanoseconds >= configuration.bucketRefreshInterval.nanoseconds {
            for i in routingTable.bucketsNeedingRefresh(before: cutoff).prefix(16) {
                routingTable.markRefreshed(i, at: now)
                if let key = Self.randomKey(inBucket: i, of: localKey, using: &rng) {
                    actions += startQuery(.findNode, key: key, now: now).1
                }
            }
        }
        return actions
    }

    /// Random key bytes whose SHA-256 falls in bucket `index` of `local`
    /// (found by sampling, as go-libp2p does; deep buckets are skipped).
    static func randomKey(inBucket index: Int, of local: KadKey, using rng: inout some RandomNumberGenerator) -> [UInt8]? {
        guard index < 20 else { return nil }
        for _ in 0..<(1 << 22) {
            var candidate = [UInt8](repeating: 0, count: 32)
            for i in stride(from: 0, to: 32, by: 8) {
                let r = rng.next()
                for j in 0..<8 { candidate[i + j] = UInt8(truncatingIfNeeded: r >> UInt64(8 * j)) }
            }
            if KadKey(hashing: candidate).distance(to: local).leadingZeroBits == index { return candidate }
        }
        return nil
    }

    private mutating func expire(_ now: NetworkInstant) {
        for (key, entries) in providers {
            let alive = entries.filter { $0.value.expires > now }
            providers[key] = alive.isEmpty ? nil : alive
        }
        for (key, r) in records where r.expires <= now { records[key] = nil }
    }
}

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
        /// Bounds on what other peers can make this node store (SPEC §8.1; security review
        /// finding 5). Entries of this node itself are exempt and never evicted; remote
        /// entries are admitted by ``SlotLedger``'s fair share when a table is full.
        public var maxProvidersPerKey = 64
        /// Remote provider entries (key, provider) in total, and per provider peer.
        public var maxProviderEntries = 100_000
        public var maxProviderEntriesPerPeer = 10_000
        /// Records stored for other peers in total, and per peer that first stored one.
        public var maxRecords = 100_000
        public var maxRecordsPerPeer = 10_000
        /// Bytes of keys and values of records stored for other peers, in total.
        public var maxRecordBytes = 64 << 20
        public var maxRecordValueLength = 16 * 1024
        /// ADD_PROVIDER / GET_PROVIDERS keys are multihashes (34 bytes for SHA-256);
        /// go-libp2p refuses keys over 80 bytes too.
        public var maxProviderKeyLength = 80
        /// Any other key: the longest record key is `/vivim/record/` + a 256-byte content id.
        public var maxKeyLength = ContentRecord.keyPrefix.count + ContentRecord.maxContentID
        /// Addresses kept per peer (provider entries, routing table), and the longest one kept.
        public var maxAddrsPerPeer = 8
        public var maxAddrLength = 128
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
    struct ProviderSlot: Hashable, Sendable { var key: [UInt8]; var peer: PeerID }
    struct StoredRecord: Sendable {
        var record: KadMessage.Record
        var expires: NetworkInstant
        var bytes: Int { record.key.count + record.value.count }
    }

    struct Query: Sendable {
        var kind: QueryKind
        var key: [UInt8]
        var lookup: KadLookup
        var providers: [PeerID: KadMessage.Peer] = [:]
        var value: KadMessage.Record?
    }

    struct PendingRequest: Sendable {
        var query: QueryID?
        var peer: PeerID
        var deadline: NetworkInstant
        /// The addresses handed to the shell for this request: whether they are the
        /// routing table's own decides if a failure may evict the peer.
        var addrs: [Multiaddr]
    }

    public let localPeer: PeerID
    public let localKey: KadKey
    public var localAddrs: [Multiaddr]
    public let configuration: Configuration
    public private(set) var routingTable: RoutingTable
    private var providers: [[UInt8]: [PeerID: ProviderEntry]] = [:]
    private var records: [[UInt8]: StoredRecord] = [:]
    /// Who holds the remote provider entries and the records stored for other peers.
    private var providerLedger: SlotLedger<ProviderSlot>
    private var recordLedger: SlotLedger<[UInt8]>
    /// Bytes of the records in `recordLedger`.
    private var recordBytes = 0
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
        self.providerLedger = SlotLedger(perPeer: configuration.maxProviderEntriesPerPeer, total: configuration.maxProviderEntries)
        self.recordLedger = SlotLedger(perPeer: configuration.maxRecordsPerPeer, total: configuration.maxRecords)
    }

    public var activeQueries: Int { queries.count }
    public var pendingRequests: Int { pending.count }

    public var storedProviderEntries: Int { providerLedger.count }
    public var storedRecords: Int { records.count }
    /// Bytes of keys and values of the records stored for other peers.
    public var storedRecordBytes: Int { recordBytes }

    /// Adds a peer learned out of band (bootstrap list) or from the peer itself (its
    /// identify, its connection): the only sources of addresses the routing table trusts.
    public mutating func addPeer(_ peer: PeerID, addrs: [Multiaddr] = [], now: NetworkInstant) {
        guard peer != localPeer else { return }
        routingTable.seen(peer, addrs: bounded(addrs), at: now)
    }

    /// At most ``Configuration/maxAddrsPerPeer`` addresses, none longer than ``Configuration/maxAddrLength``.
    private func bounded(_ addrs: [Multiaddr]) -> [Multiaddr] {
        Array(addrs.lazy.filter { $0.bytes.count <= configuration.maxAddrLength }.prefix(configuration.maxAddrsPerPeer))
    }

    // MARK: serving requests

    /// Answers an inbound request from `sender` (the authenticated remote peer; `addrs`
    /// are addresses the shell knows from the peer itself). Returns the response, or nil
    /// for messages without one (ADD_PROVIDER) and for refused requests (a key longer
    /// than the limits, a record that is invalid or outside the known namespaces).
    public mutating func handleRequest(from sender: PeerID, addrs: [Multiaddr] = [], _ message: KadMessage, now: NetworkInstant) -> KadMessage? {
        if sender != localPeer { routingTable.seen(sender, addrs: bounded(addrs), at: now) }
        let key = message.key
        switch message.type {
        case .addProvider, .getProviders:
            guard key.count <= configuration.maxProviderKeyLength else { return nil }
        case .putValue, .getValue, .findNode:
            guard key.count <= configuration.maxKeyLength else { return nil }
        case .ping:
            break
        }
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
            for p in message.providerPeers where p.id == sender && sender != localPeer {
                storeProvider(key: key, peer: p.id, addrs: p.addrs.isEmpty ? addrs : p.addrs, now: now)
            }
            return nil
        case .putValue:
            guard let record = message.record, record.key == key, storeRecord(record, from: sender, now: now) else { return nil }
            return message
        case .getValue:
            let stored = records[key].flatMap { $0.expires > now ? $0.record : nil }
            return KadMessage(type: .getValue, key: key, record: stored,
                              closerPeers: closerPeers(to: KadKey(hashing: key), excluding: sender))
        }
    }

    /// Record validation by namespace (``KadRecordNamespace``). Returns the value to
    /// store, or nil to reject.
    static func validated(key: [UInt8], value: [UInt8], existing: [UInt8]?) -> [UInt8]? {
        KadRecordNamespace.validated(key: key, value: value, existing: existing)
    }

    /// Stores (or merges) a record another peer sent. A new key takes a slot of
    /// `sender`'s share (``SlotLedger``); an update stays in the slot of whoever holds it.
    private mutating func storeRecord(_ record: KadMessage.Record, from sender: PeerID, now: NetworkInstant) -> Bool {
        let key = record.key
        guard record.value.count <= configuration.maxRecordValueLength,
              let value = Self.validated(key: key, value: record.value, existing: records[key]?.record.value),
              value.count <= configuration.maxRecordValueLength else { return false }
        let stored = StoredRecord(record: KadMessage.Record(key: key, value: value), expires: now + configuration.recordTTL)
        if let old = records[key] {
            // This node's own record (no holder) takes the merge and stays its own.
            guard let holder = recordLedger.holder(of: key) else {
                records[key] = stored
                return true
            }
            recordBytes -= old.bytes
            guard makeRoomForRecordBytes(stored.bytes, for: holder, keeping: key) else {
                recordBytes += old.bytes
                return false
            }
            recordBytes += stored.bytes
            records[key] = stored
            return true
        }
        while true {
            switch recordLedger.admission(for: sender) {
            case .refuse: return false
            case .evict(let victim): dropRecord(victim)
            case .admit:
                guard makeRoomForRecordBytes(stored.bytes, for: sender, keeping: key) else { return false }
                recordLedger.add(key, for: sender)
                recordBytes += stored.bytes
                records[key] = stored
                return true
            }
        }
    }

    /// Evicts records of the largest holders (fair share, as ``SlotLedger``) until `bytes`
    /// more fit under ``Configuration/maxRecordBytes``; false if they cannot.
    private mutating func makeRoomForRecordBytes(_ bytes: Int, for peer: PeerID, keeping key: [UInt8]) -> Bool {
        for _ in 0..<64 where recordBytes + bytes > configuration.maxRecordBytes {
            guard case .evict(let victim) = recordLedger.fullAdmission(for: peer), victim != key else { return false }
            dropRecord(victim)
        }
        return recordBytes + bytes <= configuration.maxRecordBytes
    }

    private mutating func dropRecord(_ key: [UInt8]) {
        guard recordLedger.holder(of: key) != nil else { return }
        recordLedger.remove(key)
        if let old = records.removeValue(forKey: key) { recordBytes -= old.bytes }
    }

    private func closerPeers(to target: KadKey, excluding: PeerID) -> [KadMessage.Peer] {
        routingTable.closest(to: target, count: configuration.k + 1)
            .lazy.filter { $0.peer != excluding }.prefix(configuration.k)
            .map { KadMessage.Peer(id: $0.peer, addrs: $0.addrs) }
    }

    /// Stores a provider entry. This node's own entries always fit; a remote provider
    /// takes a slot of its fair share (``SlotLedger``), and a key already holding
    /// ``Configuration/maxProvidersPerKey`` remote providers gives the slot of the one
    /// holding the most entries overall, if it holds at least two more than the newcomer.
    private mutating func storeProvider(key: [UInt8], peer: PeerID, addrs: [Multiaddr], now: NetworkInstant) {
        let entry = ProviderEntry(addrs: bounded(addrs), expires: now + configuration.providerTTL)
        guard peer != localPeer else {
            providers[key, default: [:]][peer] = entry
            return
        }
        if providers[key]?[peer] != nil {
            providers[key]?[peer] = entry
            return
        }
        guard providerLedger.count(of: peer) < configuration.maxProviderEntriesPerPeer else { return }
        let remote = (providers[key] ?? [:]).keys.filter { $0 != localPeer }
        if remote.count >= configuration.maxProvidersPerKey {
            let mine = providerLedger.count(of: peer)
            guard let victim = remote.max(by: { providerLedger.count(of: $0) < providerLedger.count(of: $1) }),
                  providerLedger.count(of: victim) >= mine + 2 else { return }
            dropProvider(ProviderSlot(key: key, peer: victim))
        }
        while true {
            switch providerLedger.admission(for: peer) {
            case .refuse: return
            case .evict(let victim): dropProvider(victim)
            case .admit:
                providerLedger.add(ProviderSlot(key: key, peer: peer), for: peer)
                providers[key, default: [:]][peer] = entry
                return
            }
        }
    }

    private mutating func dropProvider(_ slot: ProviderSlot) {
        providerLedger.remove(slot)
        providers[slot.key]?[slot.peer] = nil
        if providers[slot.key]?.isEmpty == true { providers[slot.key] = nil }
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
            // The node's own record leaves any remote holder's slot: it is never evicted.
            dropRecord(key)
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
            pending[rid] = PendingRequest(query: id, peer: c.peer, deadline: now + configuration.requestTimeout, addrs: c.addrs)
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
                pending[rid] = PendingRequest(query: nil, peer: c.peer, deadline: now + configuration.requestTimeout, addrs: c.addrs)
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

    /// The response to request `id` arrived. `reachedAt` is the address the shell dialled
    /// to reach the peer (nil when it used an existing connection, or in a simulation).
    ///
    /// Eclipse resistance (security review finding 12): the responder answered over a
    /// connection authenticated as itself, so it is seen (Kademlia §2.2), with the address
    /// the shell reached it at only if the table has none for it. The `closerPeers` it
    /// names are lookup candidates only: never added to the routing table, and a peer the
    /// table already knows is dialled at the table's addresses, not at the ones named.
    public mutating func handleResponse(_ id: RequestID, _ message: KadMessage, reachedAt: Multiaddr? = nil,
                                        now: NetworkInstant) -> [Action] {
        guard let request = pending.removeValue(forKey: id) else { return [] }
        let known = !routingTable.addresses(of: request.peer).isEmpty
        routingTable.seen(request.peer, addrs: known ? [] : bounded(reachedAt.map { [$0] } ?? []), at: now)
        guard let qid = request.query, var query = queries[qid] else { return [] }
        let closer = message.closerPeers.filter { $0.id != localPeer }.prefix(configuration.k).map { p in
            let own = routingTable.addresses(of: p.id)
            return (p.id, own.isEmpty ? bounded(p.addrs) : own)
        }
        query.lookup.succeeded(request.peer, closer: closer)
        if case .getProviders = query.kind {
            for p in message.providerPeers.prefix(configuration.maxProvidersPerKey) where query.providers[p.id] == nil {
                query.providers[p.id] = KadMessage.Peer(id: p.id, addrs: bounded(p.addrs), connection: p.connection)
            }
        }
        if case .getValue = query.kind, query.value == nil, let record = message.record, record.key == query.key,
           record.value.count <= configuration.maxRecordValueLength,
           Self.validated(key: record.key, value: record.value, existing: nil) != nil {
            query.value = KadMessage.Record(key: record.key, value: record.value)
        }
        queries[qid] = query
        return advance(qid, now: now)
    }

    /// Request `id` failed (timeout, connection error, undecodable response, refusal).
    /// A lookup's peer leaves the routing table only if it failed at the addresses the
    /// table holds for it: a dial to addresses a third party named proves nothing about
    /// it. A refused PUT_VALUE (no lookup) evicts nobody.
    public mutating func handleFailure(_ id: RequestID, now: NetworkInstant) -> [Action] {
        guard let request = pending.removeValue(forKey: id) else { return [] }
        if request.query != nil, routingTable.contains(request.peer), request.addrs == routingTable.addresses(of: request.peer) {
            routingTable.remove(request.peer)
        }
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
            for (peer, entry) in entries where entry.expires <= now {
                if peer == localPeer {
                    providers[key]?[peer] = nil
                    if providers[key]?.isEmpty == true { providers[key] = nil }
                } else {
                    dropProvider(ProviderSlot(key: key, peer: peer))
                }
            }
        }
        for (key, r) in records where r.expires <= now {
            dropRecord(key)
            records[key] = nil
        }
    }
}

/// Kademlia k-buckets (Maymounkov & Mazières 2002, §2.2): bucket `i` holds up
/// to `k` peers whose distance from the local key has `i` leading zero bits,
/// least-recently seen first. A full bucket keeps its long-lived peers and puts
/// newcomers in a small replacement cache, promoted when a member fails.
public struct RoutingTable: Sendable {
    public struct Entry: Sendable, Equatable {
        public let peer: PeerID
        public let key: KadKey
        public var addrs: [Multiaddr]
        public var lastSeen: NetworkInstant
    }

    public let localKey: KadKey
    public let k: Int
    private(set) var buckets: [[Entry]]
    private var replacements: [[Entry]]
    private(set) var lastRefreshed: [NetworkInstant]

    public init(localKey: KadKey, k: Int = 20) {
        self.localKey = localKey
        self.k = k
        buckets = Array(repeating: [], count: 256)
        replacements = Array(repeating: [], count: 256)
        lastRefreshed = Array(repeating: .zero, count: 256)
    }

    public var count: Int { buckets.reduce(0) { $0 + $1.count } }

    public func bucketIndex(for key: KadKey) -> Int? {
        let lz = key.distance(to: localKey).leadingZeroBits
        return lz == 256 ? nil : lz
    }

    public func contains(_ peer: PeerID) -> Bool {
        let key = KadKey(peer: peer)
        guard let i = bucketIndex(for: key) else { return false }
        return buckets[i].contains { $0.peer == peer }
    }

    /// Records that `peer` was seen alive. Returns whether it is now in the table.
    /// `addrs` (if any) replace the stored ones, so they must come from the peer itself
    /// (its identify, its connection, a dial that reached it) or the operator (bootstrap
    /// list), never from a third party's FIND_NODE answer (security review finding 12).
    @discardableResult
    public mutating func seen(_ peer: PeerID, key: KadKey? = nil, addrs: [Multiaddr] = [], at now: NetworkInstant) -> Bool {
        let key = key ?? KadKey(peer: peer)
        guard let i = bucketIndex(for: key) else { return false }
        lastRefreshed[i] = now
        if let j = buckets[i].firstIndex(where: { $0.peer == peer }) {
            var e = buckets[i].remove(at: j)
            e.lastSeen = now
            if !addrs.isEmpty { e.addrs = addrs }
            buckets[i].append(e)
            return true
        }
        let entry = Entry(peer: peer, key: key, addrs: addrs, lastSeen: now)
        if buckets[i].count < k {
            buckets[i].append(entry)
            return true
        }
        replacements[i].removeAll { $0.peer == peer }
        replacements[i].append(entry)
        if replacements[i].count > k { replacements[i].removeFirst() }
        return false
    }

    /// Removes a peer that failed to respond; promotes the freshest replacement.
    public mutating func remove(_ peer: PeerID) {
        let key = KadKey(peer: peer)
        guard let i = bucketIndex(for: key) else { return }
        replacements[i].removeAll { $0.peer == peer }
        guard let j = buckets[i].firstIndex(where: { $0.peer == peer }) else { return }
        buckets[i].remove(at: j)
        if let promoted = replacements[i].popLast() { buckets[i].append(promoted) }
    }

    public func addresses(of peer: PeerID) -> [Multiaddr] {
        guard let i = bucketIndex(for: KadKey(peer: peer)) else { return [] }
        return buckets[i].first { $0.peer == peer }?.addrs ?? []
    }

    /// The `count` known peers closest to `target`, nearest first.
    public func closest(to target: KadKey, count: Int) -> [Entry] {
        // Scores are plain values (no reference counting), so sorting them is cheap.
        struct Scored { let distance: KadKey; let bucket: Int32; let slot: Int32 }
        var scored: [Scored] = []
        scored.reserveCapacity(self.count)
        for b in 0..<buckets.count where !buckets[b].isEmpty {
            for i in 0..<buckets[b].count {
                scored.append(Scored(distance: buckets[b][i].key.distance(to: target), bucket: Int32(b), slot: Int32(i)))
            }
        }
        scored.sort { $0.distance < $1.distance }
        return scored.prefix(count).map { buckets[Int($0.bucket)][Int($0.slot)] }
    }

    /// Indices of non-empty-range buckets not refreshed since `cutoff`, up to the deepest used bucket.
    public func bucketsNeedingRefresh(before cutoff: NetworkInstant) -> [Int] {
        guard let deepest = buckets.lastIndex(where: { !$0.isEmpty }) else { return [] }
        return (0...min(deepest + 1, 255)).filter { lastRefreshed[$0] < cutoff }
    }

    public mutating func markRefreshed(_ index: Int, at now: NetworkInstant) { lastRefreshed[index] = now }

    public var allPeers: [Entry] { buckets.flatMap { $0 } }
}

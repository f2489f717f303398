/// Who holds which slots of a bounded DHT table (provider entries, records), so that
/// the table is bounded per peer and in total and one peer cannot keep the others out
/// (SPEC §8.1; security review finding 5).
///
/// Admission is "fair share": a peer below ``perPeer`` takes a free slot while there is
/// one; when the table is full it takes a slot from the peer that holds the most, but
/// only if that peer would still hold at least as many as the newcomer afterwards. A
/// flooder can therefore fill free space, but never keep out a peer holding fewer slots
/// than it does. All operations are O(1) (amortised).
struct SlotLedger<Slot: Hashable & Sendable>: Sendable {
    enum Admission: Equatable { case admit, evict(Slot), refuse }

    let perPeer: Int
    let total: Int
    private var held: [PeerID: [Slot]] = [:]
    private var place: [Slot: (holder: PeerID, index: Int)] = [:]
    /// Peers by the number of slots they hold, and the largest such number.
    private var byCount: [Int: Set<PeerID>] = [:]
    private var maxCount = 0

    init(perPeer: Int, total: Int) {
        self.perPeer = max(0, perPeer)
        self.total = max(0, total)
    }

    var count: Int { place.count }
    func count(of peer: PeerID) -> Int { held[peer]?.count ?? 0 }
    func holder(of slot: Slot) -> PeerID? { place[slot]?.holder }

    /// What adding one more slot for `peer` requires: nothing, evicting one slot of
    /// the largest holder, or nothing possible.
    func admission(for peer: PeerID) -> Admission {
        guard count(of: peer) < perPeer else { return .refuse }
        return count < total ? .admit : fullAdmission(for: peer)
    }

    /// The slot to give up so that `peer` can grow although there is no room (the
    /// table, or a byte budget next to it, is full): one of the largest holder's, if
    /// that holder keeps at least as many as `peer` then has; else refuse.
    func fullAdmission(for peer: PeerID) -> Admission {
        let mine = count(of: peer)
        guard maxCount >= mine + 2, let victim = byCount[maxCount]?.first, let slot = held[victim]?.last else { return .refuse }
        return .evict(slot)
    }

    mutating func add(_ slot: Slot, for peer: PeerID) {
        guard place[slot] == nil else { return }
        let before = count(of: peer)
        held[peer, default: []].append(slot)
        place[slot] = (peer, before)
        move(peer, from: before, to: before + 1)
    }

    mutating func remove(_ slot: Slot) {
        guard let at = place.removeValue(forKey: slot), let before = held[at.holder]?.count, before > 0 else { return }
        // Swap-remove, in place (no copy of the holder's array).
        let last = held[at.holder]!.removeLast()
        if at.index < before - 1 {
            held[at.holder]![at.index] = last
            place[last] = (at.holder, at.index)
        }
        if before == 1 { held[at.holder] = nil }
        move(at.holder, from: before, to: before - 1)
    }

    private mutating func move(_ peer: PeerID, from old: Int, to new: Int) {
        if old > 0 {
            byCount[old]?.remove(peer)
            if byCount[old]?.isEmpty == true { byCount[old] = nil }
        }
        if new > 0 { byCount[new, default: []].insert(peer) }
        if new > maxCount { maxCount = new }
        while maxCount > 0 && byCount[maxCount] == nil { maxCount -= 1 }
    }
}

/// A state-based CRDT (CvRDT; Shapiro, Preguiça, Baquero, Zawirski, "Conflict-free
/// Replicated Data Types", SSS 2011): states form a join-semilattice and
/// `merge` is the join, so it is commutative, associative and idempotent and
/// replicas that have merged the same states are equal, whatever the order.
///
/// Every type here also tags its entries with the `Dot` of the operation that
/// produced them, so `delta(since:)` can return the part of the state a peer
/// with a given state vector lacks (delta-state CRDTs; Almeida, Shoker,
/// Baquero, "Delta State Replicated Data Types", JPDC 2018).
public protocol StateCRDT: Equatable, Sendable, VersionedBinaryCodable {
    /// The join of two states.
    mutating func merge(_ other: Self)
    /// The smallest sub-state that, merged into a replica whose state vector
    /// is `since`, brings it up to date with `self` (deletions included).
    func delta(since: StateVector) -> Self
    /// True for the initial (bottom) state, which merges as a no-op.
    var isInitialState: Bool { get }
}

extension StateCRDT {
    public func merging(_ other: Self) -> Self {
        var copy = self
        copy.merge(other)
        return copy
    }
}

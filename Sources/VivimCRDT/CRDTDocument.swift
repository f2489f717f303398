/// A shared document: named fields of the CRDT types of this module, one
/// state vector over all of them, delta extraction and buffered application
/// of updates. Pure value type: no I/O, no clock (callers pass wall-clock
/// time in milliseconds to the last-writer-wins operations).
///
/// Every local operation takes fresh dots `(replica, counter)`; a text insert
/// of n characters takes n. `takeLocalUpdate()` packages the local operations
/// made since the previous call for live broadcast; `update(since:)` answers a
/// peer's state vector with everything it lacks (sync step 2).
public struct CRDTDocument: Sendable {
    public let id: DocumentID
    public let replica: ReplicaID
    /// Operations integrated, per replica.
    public private(set) var stateVector = StateVector()
    var fields = DocumentFields()
    var clock = HybridLogicalClock()
    /// Updates received before what they require; applied once it arrives.
    var pending: [CRDTUpdate] = []
    /// Encoded size of each buffered update (same order as `pending`).
    var pendingSizes: [Int] = []
    /// Bytes of buffered updates, bounded by ``maxPendingBytes``.
    public private(set) var pendingByteCount = 0
    /// Local operations below this counter have been packaged by `takeLocalUpdate`.
    var publishedCounter: UInt64 = 0
    /// Elements the pending local operations were inserted after.
    var localDependencies = StateVector()
    /// Local deletions (sequences) and removals (sets) not yet packaged.
    var localTextDeletes: [String: DotSet] = [:]
    var localListDeletes: [String: DotSet] = [:]
    var localSetRemovals: [String: DotSet] = [:]
    /// Fields changed by local operations not yet packaged.
    var touched = FieldNames()

    /// At most this many out-of-order updates are buffered; beyond that the
    /// oldest are dropped and the next sync exchange recovers their content.
    public static var maxPendingUpdates: Int { 1024 }
    /// At most this many bytes of out-of-order updates are buffered (oldest
    /// dropped first; a larger update is not buffered at all): a peer sending
    /// updates that never become applicable cannot grow memory.
    public static var maxPendingBytes: Int { 4 << 20 }

    public init(id: DocumentID, replica: ReplicaID) {
        self.id = id
        self.replica = replica
    }

    /// Number of updates waiting for operations they depend on.
    public var pendingUpdateCount: Int { pending.count }

    // MARK: Reading

    public func counter(_ name: String) -> UInt64 { fields.gCounters[name]?.value ?? 0 }
    public func pnCounter(_ name: String) -> Int64 { fields.pnCounters[name]?.value ?? 0 }
    public func register(_ name: String) -> CRDTValue? { fields.registers[name]?.value }
    public func set(_ name: String) -> Set<CRDTValue> { fields.sets[name]?.elements ?? [] }
    public func map(_ name: String) -> [String: CRDTValue] { fields.maps[name]?.values ?? [:] }
    public func list(_ name: String) -> [CRDTValue] { fields.lists[name]?.elements ?? [] }
    public func text(_ name: String) -> String { fields.texts[name]?.text ?? "" }
    public func textLength(_ name: String) -> Int { fields.texts[name]?.count ?? 0 }
    public func listLength(_ name: String) -> Int { fields.lists[name]?.count ?? 0 }

    // MARK: Local operations

    /// Reserves `n` fresh operation counters of this replica.
    mutating func nextCounters(_ n: Int) -> UInt64 {
        let first = stateVector[replica]
        stateVector[replica] = first + UInt64(n)
        return first
    }

    mutating func nextDot() -> Dot { Dot(replica: replica, counter: nextCounters(1)) }

    /// A stamp later than `existing` and than every stamp seen so far.
    mutating func nextStamp(after existing: LWWStamp?, wallClock: UInt64) -> LWWStamp {
        if let existing { clock.observe(existing.timestamp) }
        return LWWStamp(timestamp: clock.tick(now: wallClock), replica: replica)
    }

    /// G-Counter: adds `amount` (view counts).
    public mutating func increment(_ name: String, by amount: UInt64 = 1) {
        let dot = nextDot()
        touched.gCounters.insert(name)
        fields.gCounters[name, default: GCounter()].increment(by: amount, at: dot)
    }

    /// PN-Counter: adds `amount`, which may be negative.
    public mutating func add(_ amount: Int64, toCounter name: String) {
        let dot = nextDot()
        touched.pnCounters.insert(name)
        fields.pnCounters[name, default: PNCounter()].add(amount, at: dot)
    }

    /// LWW-Register: writes `value` at `wallClock` (milliseconds since 1970).
    public mutating func setRegister(_ name: String, to value: CRDTValue, wallClock: UInt64) {
        let stamp = nextStamp(after: fields.registers[name]?.current?.stamp, wallClock: wallClock)
        let dot = nextDot()
        touched.registers.insert(name)
        fields.registers[name, default: LWWRegister()].set(value, stamp: stamp, dot: dot)
    }

    /// OR-Set: adds `element`.
    public mutating func insert(_ element: CRDTValue, intoSet name: String) {
        let dot = nextDot()
        touched.sets.insert(name)
        fields.sets[name, default: ORSet()].insert(element, at: dot)
    }

    /// OR-Set: removes `element` as observed here (a concurrent add wins).
    public mutating func remove(_ element: CRDTValue, fromSet name: String) {
        guard fields.sets[name] != nil else { return }
        touched.sets.insert(name)
        for dot in fields.sets[name]!.remove(element) { localSetRemovals[name, default: DotSet()].insert(dot) }
    }

    /// LWW-Map: sets `key` to `value` at `wallClock`.
    public mutating func setValue(_ value: CRDTValue, forKey key: String, inMap name: String, wallClock: UInt64) {
        let stamp = nextStamp(after: fields.maps[name]?.registers[key]?.current?.stamp, wallClock: wallClock)
        let dot = nextDot()
        touched.maps.insert(name)
        fields.maps[name, default: LWWMap()].set(key, to: value, stamp: stamp, dot: dot)
    }

    /// LWW-Map: removes `key` at `wallClock` (a tombstone write).
    public mutating func removeValue(forKey key: String, inMap name: String, wallClock: UInt64) {
        let stamp = nextStamp(after: fields.maps[name]?.registers[key]?.current?.stamp, wallClock: wallClock)
        let dot = nextDot()
        touched.maps.insert(name)
        fields.maps[name, default: LWWMap()].remove(key, stamp: stamp, dot: dot)
    }

    /// Text: inserts `string` before character (Unicode scalar) `index`.
    public mutating func insertText(_ string: String, at index: Int, in name: String) {
        let scalars = string.unicodeScalars
        guard !scalars.isEmpty else { return }
        let first = nextCounters(scalars.count)
        touched.texts.insert(name)
        let origin = fields.texts[name, default: RGASequence()].insert(contentsOf: scalars, at: index, replica: replica, firstCounter: first)
        noteDependency(origin)
    }

    /// Text: deletes `count` characters (Unicode scalars) from `index`.
    public mutating func deleteText(at index: Int, count: Int = 1, in name: String) {
        guard count > 0 else { return }
        touched.texts.insert(name)
        var deleted = localTextDeletes.removeValue(forKey: name) ?? DotSet()
        fields.texts[name, default: RGASequence()].remove(at: index, count: count) { deleted.insert($1, of: $0) }
        localTextDeletes[name] = deleted
    }

    /// List: inserts `values` before position `index`.
    public mutating func insert(_ values: [CRDTValue], at index: Int, inList name: String) {
        guard !values.isEmpty else { return }
        let first = nextCounters(values.count)
        touched.lists.insert(name)
        let origin = fields.lists[name, default: RGASequence()].insert(contentsOf: values, at: index, replica: replica, firstCounter: first)
        noteDependency(origin)
    }

    /// List: deletes `count` values from `index`.
    public mutating func delete(at index: Int, count: Int = 1, inList name: String) {
        guard count > 0 else { return }
        touched.lists.insert(name)
        var deleted = localListDeletes.removeValue(forKey: name) ?? DotSet()
        fields.lists[name, default: RGASequence()].remove(at: index, count: count) { deleted.insert($1, of: $0) }
        localListDeletes[name] = deleted
    }

    private mutating func noteDependency(_ origin: Dot?) {
        guard let origin, origin.replica != replica, localDependencies[origin.replica] <= origin.counter else { return }
        localDependencies[origin.replica] = origin.counter + 1
    }

    // MARK: Sync

    /// Everything a replica with state vector `vector` lacks (sync step 2):
    /// the operations it has not seen and every deletion.
    public func update(since vector: StateVector) -> CRDTUpdate {
        // The peer has at least `vector`; the delta starts where it and we overlap.
        CRDTUpdate(document: id, requires: stateVector.intersection(vector), provides: stateVector, fields: fields.delta(since: vector))
    }

    /// The local operations made since the previous call, for live
    /// broadcast; nil if there were none.
    public mutating func takeLocalUpdate() -> CRDTUpdate? {
        let from = publishedCounter
        let to = stateVector[replica]
        guard to > from || !localTextDeletes.isEmpty || !localListDeletes.isEmpty || !localSetRemovals.isEmpty else { return nil }
        // Cover every other replica fully, so the delta holds only our own new operations.
        var since = stateVector
        since[replica] = from
        var delta = fields.delta(since: since, only: touched)
        // Replace the full deletion sets the delta carries by the local ones.
        for name in Set(delta.texts.keys).union(localTextDeletes.keys) {
            delta.texts[name, default: RGASequence()].replaceDeletions(with: localTextDeletes[name] ?? DotSet())
            if delta.texts[name]!.isInitialState { delta.texts[name] = nil }
        }
        for name in Set(delta.lists.keys).union(localListDeletes.keys) {
            delta.lists[name, default: RGASequence()].replaceDeletions(with: localListDeletes[name] ?? DotSet())
            if delta.lists[name]!.isInitialState { delta.lists[name] = nil }
        }
        for name in Set(delta.sets.keys).union(localSetRemovals.keys) {
            delta.sets[name, default: ORSet()].replaceRemovals(localSetRemovals[name] ?? DotSet())
            if delta.sets[name]!.isInitialState { delta.sets[name] = nil }
        }
        var requires = localDependencies
        requires[replica] = from
        var provides = requires
        provides[replica] = to
        publishedCounter = to
        localDependencies = StateVector()
        localTextDeletes = [:]
        localListDeletes = [:]
        localSetRemovals = [:]
        touched = FieldNames()
        return CRDTUpdate(document: id, requires: requires, provides: provides, fields: delta)
    }

    /// What `apply` did with an update.
    public enum ApplyOutcome: Equatable, Sendable {
        /// Integrated (and any buffered updates it unblocked).
        case applied
        /// Buffered: it requires operations this replica lacks (`missing`
        /// lists the shortfall); ask the sender for a sync.
        case buffered(missing: StateVector)
        /// Addressed to another document; ignored.
        case wrongDocument
    }

    /// Applies a remote update, or buffers it until what it requires is here.
    /// Duplicates and stale updates are harmless (merge is idempotent).
    @discardableResult
    public mutating func apply(_ update: CRDTUpdate) -> ApplyOutcome {
        guard update.document == id else { return .wrongDocument }
        guard update.requires.isCovered(by: stateVector) else {
            let size = update.encodedByteCount
            if size <= Self.maxPendingBytes {
                while !pending.isEmpty, pending.count >= Self.maxPendingUpdates || pendingByteCount + size > Self.maxPendingBytes {
                    pending.removeFirst()
                    pendingByteCount -= pendingSizes.removeFirst()
                }
                pending.append(update)
                pendingSizes.append(size)
                pendingByteCount += size
            }
            var missing = StateVector()
            for (replica, count) in update.requires.counts where count > stateVector[replica] { missing[replica] = count }
            return .buffered(missing: missing)
        }
        integrate(update)
        var progress = true
        while progress {
            progress = false
            if let index = pending.firstIndex(where: { $0.requires.isCovered(by: stateVector) }) {
                pendingByteCount -= pendingSizes.remove(at: index)
                integrate(pending.remove(at: index))
                progress = true
            }
        }
        return .applied
    }

    private mutating func integrate(_ update: CRDTUpdate) {
        fields.merge(update.fields)
        stateVector.formUnion(update.provides)
    }

    // MARK: Load and save

    /// Canonical encoding of the replicated state: id, state vector, fields.
    /// Replicas with the same state produce the same bytes; buffered updates
    /// and unsent local changes are not included.
    public func encodedState() -> [UInt8] {
        var writer = BinaryWriter(reservingCapacity: 1024)
        writer.write(byte: WireFormat.version)
        writer.write(byte: WireFormat.Kind.document.rawValue)
        writer.write(id)
        writer.write(stateVector)
        fields.encode(to: &writer)
        return writer.bytes
    }

    /// Bytes this document holds as seen by the size limits: its encoded state
    /// plus the updates it buffers.
    public var byteCount: Int { encodedState().count + pendingByteCount }

    /// Saves the state (same as `encodedState()`).
    public func save() -> [UInt8] { encodedState() }

    /// Loads a saved state as `replica`. New local operations continue after
    /// the replica's operations recorded in the state.
    public static func load(_ bytes: [UInt8], replica: ReplicaID) throws -> CRDTDocument {
        var reader = BinaryReader(bytes)
        let version = try reader.readByte()
        guard version == WireFormat.version else { throw CRDTDecodingError.unsupportedVersion(version) }
        let kind = try reader.readByte()
        guard kind == WireFormat.Kind.document.rawValue else {
            throw CRDTDecodingError.unexpectedKind(expected: WireFormat.Kind.document.rawValue, found: kind)
        }
        var document = CRDTDocument(id: try reader.read(), replica: replica)
        document.stateVector = try reader.read()
        document.fields = try DocumentFields(from: &reader)
        try reader.expectEnd()
        document.publishedCounter = document.stateVector[replica]
        return document
    }
}

/// View counts of one content id (SPEC §9), merged across nodes: a G-Counter
/// in which each replica counts the views it served. The total is the sum of
/// every replica's count; merging takes each replica's maximum, so re-delivered,
/// duplicated or re-synced state never counts a view twice.
///
/// Field: G-Counter `views`; LWW-Map `nodes` (replica id in hex → the node
/// that owns that replica, for per-node figures).
public struct ViewCounter: SharedDocument {
    public static var namespace: DocumentNamespace { .views }
    static let views = "views"
    static let nodes = "nodes"

    public var document: CRDTDocument

    public init(_ document: CRDTDocument) { self.document = document }

    public init(contentId: String, replica: ReplicaID) {
        document = CRDTDocument(id: .views(contentId), replica: replica)
    }

    /// Counts `count` views served by this replica. `node` (a peer id) labels
    /// the replica once, so `servedByNode` can group replicas by node.
    public mutating func recordViews(_ count: UInt64 = 1, servedBy node: String? = nil, wallClock: UInt64 = 0) {
        guard count > 0 else { return }
        document.increment(Self.views, by: count)
        let label = String(document.replica.rawValue, radix: 16)
        if let node, document.map(Self.nodes)[label] != .string(node) {
            document.setValue(.string(node), forKey: label, inMap: Self.nodes, wallClock: wallClock)
        }
    }

    /// All views, every node's contribution included.
    public var total: UInt64 { document.counter(Self.views) }

    /// Views served by one replica.
    public func served(by replica: ReplicaID) -> UInt64 { document.fields.gCounters[Self.views]?.count(of: replica) ?? 0 }

    /// Views per replica.
    public var servedByReplica: [ReplicaID: UInt64] {
        (document.fields.gCounters[Self.views]?.entries ?? [:]).mapValues(\.count)
    }

    /// Views per labelled node (replicas without a label are grouped under their hex id).
    public var servedByNode: [String: UInt64] {
        let labels = document.map(Self.nodes)
        var result: [String: UInt64] = [:]
        for (replica, count) in servedByReplica {
            let hexID = String(replica.rawValue, radix: 16)
            let node: String
            if case .string(let name) = labels[hexID] { node = name } else { node = hexID }
            // Saturating, like `total`: peers choose the counts and the labels.
            let (sum, overflow) = result[node, default: 0].addingReportingOverflow(count)
            result[node] = overflow ? .max : sum
        }
        return result
    }
}

extension ViewCounter {
    /// What replica `writer` may write in a view counter: its own `views`
    /// entry and its own `nodes` label (key = its hex id, written by itself).
    /// Every other replica's entry, every other field and every other
    /// state-vector entry is dropped, so a peer that relays or forges other
    /// replicas' counts changes nothing of theirs (security review finding 20).
    /// An own entry without a matching `provides` count is dropped too: every
    /// counted replica is then named by the state vector, which bounds them.
    public static func admitting(_ update: CRDTUpdate, writtenBy writer: ReplicaID) -> CRDTUpdate {
        var fields = DocumentFields()
        let provided = update.provides[writer]
        if provided > 0 {
            if let entry = update.fields.gCounters[views]?.entries[writer] {
                var own = GCounter()
                own.entries[writer] = entry
                fields.gCounters[views] = own
            }
            let label = String(writer.rawValue, radix: 16)
            if let register = update.fields.maps[nodes]?.registers[label], let write = register.current,
               write.dot.replica == writer, write.stamp.replica == writer {
                var map = LWWMap<String, CRDTValue>()
                map.registers[label] = register
                fields.maps[nodes] = map
            }
        }
        return CRDTUpdate(document: update.document, requires: StateVector([writer: update.requires[writer]]),
                          provides: StateVector([writer: provided]), fields: fields)
    }
}

extension SyncMessage {
    /// The message with its update narrowed to what `writer` may write in a
    /// view counter (``ViewCounter/admitting(_:writtenBy:)``); a state vector is unchanged.
    public func admittingViews(writtenBy writer: ReplicaID) -> SyncMessage {
        switch self {
        case .stateVector: self
        case .delta(let update): .delta(ViewCounter.admitting(update, writtenBy: writer))
        case .update(let update): .update(ViewCounter.admitting(update, writtenBy: writer))
        }
    }
}

/// A collection of content ids shared in a circle: an add-wins OR-Set, so an
/// item added on one node while another removes it concurrently stays in, and
/// items added on different nodes all survive the merge.
///
/// Fields: OR-Set `items` (content ids as strings); LWW-Register `title`.
public struct SharedCollection: SharedDocument {
    public static var namespace: DocumentNamespace { .collection }
    static let items = "items"
    static let title = "title"

    public var document: CRDTDocument

    public init(_ document: CRDTDocument) { self.document = document }

    public init(id: String, replica: ReplicaID) {
        document = CRDTDocument(id: .collection(id), replica: replica)
    }

    /// Adds the item with a fresh tag, even if it is already in: a concurrent
    /// remove elsewhere has not seen that tag, so the item stays (add wins).
    public mutating func add(_ contentId: String) {
        document.insert(.string(contentId), intoSet: Self.items)
    }

    /// Removes the item as seen here; a concurrent `add` elsewhere wins.
    public mutating func remove(_ contentId: String) {
        document.remove(.string(contentId), fromSet: Self.items)
    }

    public func contains(_ contentId: String) -> Bool { document.set(Self.items).contains(.string(contentId)) }

    /// The content ids, sorted.
    public var contentIds: [String] {
        document.set(Self.items).compactMap { if case .string(let s) = $0 { s } else { nil } }.sorted()
    }

    public var title: String? {
        if case .string(let s) = document.register(Self.title) { s } else { nil }
    }

    public mutating func setTitle(_ title: String, wallClock: UInt64) {
        document.setRegister(Self.title, to: .string(title), wallClock: wallClock)
    }
}

/// Collaborative annotations on a shared conversation. The order of the
/// annotations is an RGA sequence of annotation ids (concurrent inserts land
/// in one order everywhere); each annotation's fields are an LWW-Map (a
/// concurrent edit of the same field is won by the later hybrid timestamp,
/// edits of different fields both survive). Deleting an annotation removes
/// its id from the sequence; a concurrent edit of a deleted annotation stays
/// invisible, so delete wins over edit on every replica alike.
///
/// Fields: list `order`; LWW-Map `annotation:<id>` with keys `body`, `author`,
/// `anchorMessage`, `anchorACU`, `createdAt`.
public struct AnnotationThread: SharedDocument {
    public static var namespace: DocumentNamespace { .annotations }
    static let order = "order"
    static func fields(_ id: String) -> String { "annotation:" + id }

    /// What an annotation points at: a message of the conversation, optionally one ACU of it.
    public struct Anchor: Hashable, Sendable {
        public var messageId: String
        public var acuId: String?
        public init(messageId: String, acuId: String? = nil) {
            self.messageId = messageId
            self.acuId = acuId
        }
    }

    public struct Annotation: Hashable, Sendable {
        public var id: String
        public var body: String
        public var author: String
        public var anchor: Anchor
        /// Milliseconds since 1970.
        public var createdAt: UInt64
        public init(id: String, body: String, author: String, anchor: Anchor, createdAt: UInt64) {
            self.id = id
            self.body = body
            self.author = author
            self.anchor = anchor
            self.createdAt = createdAt
        }
    }

    public var document: CRDTDocument

    public init(_ document: CRDTDocument) { self.document = document }

    public init(contentId: String, replica: ReplicaID) {
        document = CRDTDocument(id: .annotations(contentId), replica: replica)
    }

    /// Inserts `annotation` before position `index` (default: at the end).
    /// Inserting an id already in the thread does nothing.
    public mutating func insert(_ annotation: Annotation, at index: Int? = nil, wallClock: UInt64) {
        guard position(of: annotation.id) == nil else { return }
        let name = Self.fields(annotation.id)
        document.setValue(.string(annotation.body), forKey: "body", inMap: name, wallClock: wallClock)
        document.setValue(.string(annotation.author), forKey: "author", inMap: name, wallClock: wallClock)
        document.setValue(.string(annotation.anchor.messageId), forKey: "anchorMessage", inMap: name, wallClock: wallClock)
        if let acu = annotation.anchor.acuId {
            document.setValue(.string(acu), forKey: "anchorACU", inMap: name, wallClock: wallClock)
        }
        document.setValue(.int(Int64(clamping: annotation.createdAt)), forKey: "createdAt", inMap: name, wallClock: wallClock)
        let count = document.listLength(Self.order)
        document.insert([.string(annotation.id)], at: min(max(0, index ?? count), count), inList: Self.order)
    }

    /// Replaces the body of annotation `id`; false if it is not in the thread.
    @discardableResult
    public mutating func edit(_ id: String, body: String, wallClock: UInt64) -> Bool {
        guard position(of: id) != nil else { return false }
        document.setValue(.string(body), forKey: "body", inMap: Self.fields(id), wallClock: wallClock)
        return true
    }

    /// Removes annotation `id` from the thread; false if it is not there.
    @discardableResult
    public mutating func delete(_ id: String) -> Bool {
        guard let index = position(of: id) else { return false }
        document.delete(at: index, inList: Self.order)
        return true
    }

    /// Ids in thread order.
    public var ids: [String] {
        document.list(Self.order).compactMap { if case .string(let s) = $0 { s } else { nil } }
    }

    public func position(of id: String) -> Int? { document.list(Self.order).firstIndex(of: .string(id)) }

    /// The annotations in thread order.
    public var annotations: [Annotation] { ids.compactMap(annotation) }

    public func annotation(_ id: String) -> Annotation? {
        let map = document.map(Self.fields(id))
        guard case .string(let body) = map["body"], case .string(let author) = map["author"],
              case .string(let message) = map["anchorMessage"], case .int(let created) = map["createdAt"] else { return nil }
        var acu: String?
        if case .string(let a) = map["anchorACU"] { acu = a }
        return Annotation(id: id, body: body, author: author, anchor: Anchor(messageId: message, acuId: acu),
                          createdAt: UInt64(max(0, created)))
    }
}

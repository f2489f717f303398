/// The kinds of shared document the product syncs. A document id is
/// `<namespace>:<key>` (`views:<contentId>`, `collection:<id>`,
/// `annotations:<contentId>`, `actions:<owner>`), so a node (and its access
/// policy) can tell what a document is from its id alone.
public enum DocumentNamespace: String, Sendable, CaseIterable {
    /// A `ViewCounter` of one content id.
    case views
    /// A `SharedCollection`.
    case collection
    /// The `AnnotationThread` of a shared conversation.
    case annotations
    /// An `OfflineActionQueue` of one owner (a DID or a device).
    case actions
}

extension DocumentID {
    /// Longest document id the product creates or accepts from the network, in UTF-8 bytes.
    public static var maxLength: Int { 512 }
    /// Longest key after the namespace.
    public static var maxKeyLength: Int { 256 }

    public static func views(_ contentId: String) -> DocumentID { DocumentID(namespace: .views, key: contentId) }
    public static func collection(_ id: String) -> DocumentID { DocumentID(namespace: .collection, key: id) }
    public static func annotations(_ contentId: String) -> DocumentID { DocumentID(namespace: .annotations, key: contentId) }
    public static func actions(_ owner: String) -> DocumentID { DocumentID(namespace: .actions, key: owner) }

    public init(namespace: DocumentNamespace, key: String) { self.init(rawValue: namespace.rawValue + ":" + key) }

    /// The namespace and key of a well-formed product id: a known namespace,
    /// then 1–256 printable ASCII characters without spaces; nil otherwise.
    public var namespaced: (namespace: DocumentNamespace, key: String)? {
        guard let colon = rawValue.firstIndex(of: ":"),
              let namespace = DocumentNamespace(rawValue: String(rawValue[..<colon])) else { return nil }
        let key = rawValue[rawValue.index(after: colon)...]
        let bytes = key.utf8
        guard !bytes.isEmpty, bytes.count <= Self.maxKeyLength, bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        return (namespace, String(key))
    }
}

/// A typed view of a `CRDTDocument` for one product use. The view holds the
/// document itself, so it is as cheap to copy and as convergent as the
/// document; the network node syncs the document and the view reads it.
public protocol SharedDocument: Sendable {
    static var namespace: DocumentNamespace { get }
    /// The underlying document (what is synced, saved and loaded).
    var document: CRDTDocument { get set }
    /// Wraps `document`; fields the view does not use are left alone.
    init(_ document: CRDTDocument)
}

extension SharedDocument {
    /// True if `id` is a well-formed id of this kind of document.
    public static func accepts(_ id: DocumentID) -> Bool { id.namespaced?.namespace == namespace }

    /// Runs `body` on a typed view of `document` in place, without copying
    /// the document's storage (the sync service's `change` uses this).
    public static func modify<R>(_ document: inout CRDTDocument, _ body: (inout Self) throws -> R) rethrows -> R {
        var view = Self(document)
        // Drop the second reference, so the view's edits do not copy the fields.
        document = CRDTDocument(id: document.id, replica: document.replica)
        defer { document = view.document }
        return try body(&view)
    }

    public var id: DocumentID { document.id }
    /// The canonical encoded state (equal on every replica that has seen the same operations).
    public func encodedState() -> [UInt8] { document.encodedState() }
}

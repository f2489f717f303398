/// A share action a user took (SPEC §5, §9), as recorded by an offline node.
public enum ShareAction: Hashable, Sendable, BinaryCodable {
    case accept(intentId: String)
    case decline(intentId: String)
    /// One view of a content id served by the recording node.
    case view(contentId: String)
    case addToCollection(collectionId: String, contentId: String)
    case removeFromCollection(collectionId: String, contentId: String)
    case annotate(contentId: String, annotation: AnnotationThread.Annotation)

    /// The shared document the action changes, or nil for actions the home
    /// server applies to its own store (accept, decline).
    public var targetDocument: DocumentID? {
        switch self {
        case .accept, .decline: nil
        case .view(let content): .views(content)
        case .addToCollection(let collection, _), .removeFromCollection(let collection, _): .collection(collection)
        case .annotate(let content, _): .annotations(content)
        }
    }

    /// Applies the action to its target document (a no-op for other documents).
    public func apply(to document: inout CRDTDocument, wallClock: UInt64) {
        guard document.id == targetDocument else { return }
        switch self {
        case .accept, .decline: break
        case .view: ViewCounter.modify(&document) { $0.recordViews(1) }
        case .addToCollection(_, let content): SharedCollection.modify(&document) { $0.add(content) }
        case .removeFromCollection(_, let content): SharedCollection.modify(&document) { $0.remove(content) }
        case .annotate(_, let annotation): AnnotationThread.modify(&document) { $0.insert(annotation, wallClock: wallClock) }
        }
    }

    public func encode(to writer: inout BinaryWriter) {
        switch self {
        case .accept(let intent): writer.write(byte: 1); writer.write(string: intent)
        case .decline(let intent): writer.write(byte: 2); writer.write(string: intent)
        case .view(let content): writer.write(byte: 3); writer.write(string: content)
        case .addToCollection(let collection, let content): writer.write(byte: 4); writer.write(string: collection); writer.write(string: content)
        case .removeFromCollection(let collection, let content): writer.write(byte: 5); writer.write(string: collection); writer.write(string: content)
        case .annotate(let content, let a):
            writer.write(byte: 6)
            writer.write(string: content)
            writer.write(string: a.id)
            writer.write(string: a.body)
            writer.write(string: a.author)
            writer.write(string: a.anchor.messageId)
            if let acu = a.anchor.acuId { writer.write(byte: 1); writer.write(string: acu) } else { writer.write(byte: 0) }
            writer.write(varint: a.createdAt)
        }
    }

    public init(from reader: inout BinaryReader) throws {
        switch try reader.readByte() {
        case 1: self = .accept(intentId: try reader.readString())
        case 2: self = .decline(intentId: try reader.readString())
        case 3: self = .view(contentId: try reader.readString())
        case 4: self = .addToCollection(collectionId: try reader.readString(), contentId: try reader.readString())
        case 5: self = .removeFromCollection(collectionId: try reader.readString(), contentId: try reader.readString())
        case 6:
            let content = try reader.readString()
            let id = try reader.readString(), body = try reader.readString(), author = try reader.readString()
            let message = try reader.readString()
            let acu: String?
            switch try reader.readByte() {
            case 0: acu = nil
            case 1: acu = try reader.readString()
            case let tag: throw CRDTDecodingError.malformed("anchor tag \(tag)")
            }
            self = .annotate(contentId: content, annotation: .init(id: id, body: body, author: author,
                                                                   anchor: .init(messageId: message, acuId: acu),
                                                                   createdAt: try reader.readVarint()))
        case let tag: throw CRDTDecodingError.malformed("share action tag \(tag)")
        }
    }
}

/// Share actions recorded while a node is offline, as CRDT operations, so the
/// queue itself merges on reconnect: each action is keyed by its operation id
/// (chosen once by whoever records it — a client retry reuses it), recording
/// the same id twice or on two replicas yields one action, and a merged queue
/// holds every action recorded anywhere — no loss, no duplicate.
///
/// One node (the owner's home node) drains the queue: it applies each pending
/// action once and marks its id applied; the applied marks merge like the
/// actions, so no replica applies an action twice after it has synced.
///
/// Fields: LWW-Map `actions` (operation id → encoded action and time);
/// LWW-Map `applied` (operation id → time applied).
public struct OfflineActionQueue: SharedDocument {
    public static var namespace: DocumentNamespace { .actions }
    static let actions = "actions"
    static let applied = "applied"
    /// Longest operation id, in UTF-8 bytes.
    public static var maxOperationIDLength: Int { 128 }

    public struct Entry: Hashable, Sendable {
        public var operationId: String
        public var action: ShareAction
        /// Milliseconds since 1970, as given when recorded.
        public var recordedAt: UInt64
    }

    public var document: CRDTDocument

    public init(_ document: CRDTDocument) { self.document = document }

    public init(owner: String, replica: ReplicaID) {
        document = CRDTDocument(id: .actions(owner), replica: replica)
    }

    /// Records `action` under `operationId`; false (and no change) if that id
    /// is already in the queue or is empty or too long.
    @discardableResult
    public mutating func record(_ action: ShareAction, operationId: String, wallClock: UInt64) -> Bool {
        guard !operationId.isEmpty, operationId.utf8.count <= Self.maxOperationIDLength,
              document.map(Self.actions)[operationId] == nil else { return false }
        var writer = BinaryWriter()
        writer.write(varint: wallClock)
        writer.write(action)
        document.setValue(.bytes(writer.bytes), forKey: operationId, inMap: Self.actions, wallClock: wallClock)
        return true
    }

    /// Every action recorded anywhere, oldest first (ties by operation id).
    public var entries: [Entry] {
        var result: [Entry] = []
        for (id, value) in document.map(Self.actions) {
            guard case .bytes(let bytes) = value else { continue }
            var reader = BinaryReader(bytes)
            guard let time = try? reader.readVarint(), let action = try? reader.read(ShareAction.self), reader.isAtEnd else { continue }
            result.append(Entry(operationId: id, action: action, recordedAt: time))
        }
        return result.sorted { ($0.recordedAt, $0.operationId) < ($1.recordedAt, $1.operationId) }
    }

    /// Actions not yet applied, oldest first.
    public var pending: [Entry] {
        let done = document.map(Self.applied)
        return entries.filter { done[$0.operationId] == nil }
    }

    public func isApplied(_ operationId: String) -> Bool { document.map(Self.applied)[operationId] != nil }

    /// Marks an action applied (idempotent).
    public mutating func markApplied(_ operationId: String, wallClock: UInt64) {
        guard !isApplied(operationId) else { return }
        document.setValue(.int(Int64(clamping: wallClock)), forKey: operationId, inMap: Self.applied, wallClock: wallClock)
    }
}

/// Identifies a shared document (an annotation list, a collection, a profile).
public struct DocumentID: RawRepresentable, Hashable, Comparable, Sendable, BinaryCodable, ExpressibleByStringLiteral, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }

    public static func < (lhs: DocumentID, rhs: DocumentID) -> Bool { lhs.rawValue < rhs.rawValue }

    public func encode(to writer: inout BinaryWriter) { writer.write(string: rawValue) }
    public init(from reader: inout BinaryReader) throws { rawValue = try reader.readString() }

    public var description: String { rawValue }
}

/// A change to a document, as shipped between replicas: a delta state of
/// every field it touches, plus two state vectors.
///
/// - `requires`: what the receiver must already have (the operations the
///   delta starts after, and the elements its inserts were placed after).
///   A receiver that lacks them buffers the update until it has them.
/// - `provides`: what the receiver has once it applied the update.
///
/// Deletions carry no operation id (as in Yjs), so an update may also carry
/// deletions the receiver has already seen; applying them again is a no-op.
public struct CRDTUpdate: Sendable, Equatable, VersionedBinaryCodable, CustomStringConvertible {
    public static var wireKind: UInt8 { WireFormat.Kind.update.rawValue }

    public var document: DocumentID
    public var requires: StateVector
    public var provides: StateVector
    var fields: DocumentFields

    init(document: DocumentID, requires: StateVector, provides: StateVector, fields: DocumentFields) {
        self.document = document
        self.requires = requires
        self.provides = provides
        self.fields = fields
    }

    /// Length of the update's body encoding (what the size limits count).
    public var encodedByteCount: Int {
        var writer = BinaryWriter(reservingCapacity: 256)
        encode(to: &writer)
        return writer.bytes.count
    }

    /// True if the update carries no change at all.
    public var isEmpty: Bool { fields.isInitialState }

    public func encode(to writer: inout BinaryWriter) {
        writer.write(document)
        writer.write(requires)
        writer.write(provides)
        fields.encode(to: &writer)
    }

    public init(from reader: inout BinaryReader) throws {
        document = try reader.read()
        requires = try reader.read()
        provides = try reader.read()
        fields = try DocumentFields(from: &reader)
        guard requires.isCovered(by: provides) else { throw CRDTDecodingError.malformed("update requires more than it provides") }
    }

    public var description: String { "CRDTUpdate(\(document), requires: \(requires), provides: \(provides))" }
}

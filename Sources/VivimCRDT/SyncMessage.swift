/// The messages of the document sync protocol (the two-step exchange of
/// Yjs' y-protocols, over this module's state vectors and updates):
///
/// 1. each side sends `.stateVector` — what it has (step 1);
/// 2. each side answers with `.delta` — everything the other lacks (step 2);
/// 3. from then on, local changes travel as `.update`.
public enum SyncMessage: Sendable, Equatable, VersionedBinaryCodable, CustomStringConvertible {
    public static var wireKind: UInt8 { WireFormat.Kind.syncMessage.rawValue }

    case stateVector(DocumentID, StateVector)
    case delta(CRDTUpdate)
    case update(CRDTUpdate)

    public var document: DocumentID {
        switch self {
        case .stateVector(let id, _): id
        case .delta(let update), .update(let update): update.document
        }
    }

    public func encode(to writer: inout BinaryWriter) {
        switch self {
        case .stateVector(let id, let vector):
            writer.write(byte: 0)
            writer.write(id)
            writer.write(vector)
        case .delta(let update):
            writer.write(byte: 1)
            writer.write(update)
        case .update(let update):
            writer.write(byte: 2)
            writer.write(update)
        }
    }

    public init(from reader: inout BinaryReader) throws {
        switch try reader.readByte() {
        case 0: self = .stateVector(try reader.read(), try reader.read())
        case 1: self = .delta(try reader.read())
        case 2: self = .update(try reader.read())
        case let tag: throw CRDTDecodingError.malformed("sync message tag \(tag)")
        }
    }

    public var description: String {
        switch self {
        case .stateVector(let id, let vector): "stateVector(\(id), \(vector))"
        case .delta(let update): "delta(\(update))"
        case .update(let update): "update(\(update))"
        }
    }
}

import VivimCRDT

/// `/vivim/sync/1.0.0`: CRDT document sync between two nodes (SPEC §8.4) over
/// one long-lived yamux stream per peer, used in both directions.
///
/// Every frame is `uvarint(length) ‖ body`, `length ≤ maxFrameLength`, and
/// `body = version(1) ‖ tag ‖ payload`:
///
/// | tag | payload | meaning |
/// |---|---|---|
/// | 1 `messages` | `count`, then `count` × `SyncMessage` (VivimCRDT's body encoding) | sync step 1 (`stateVector`, batched), step 2 (`delta`), live `update` |
/// | 2 `denied` | `count`, then `count` × document id | the sender's policy refuses these documents to the receiver |
///
/// `count` is 1 … `maxDocumentsPerFrame`; document ids are at most
/// `DocumentID.maxLength` bytes. Integers are LEB128 varints, strings are
/// length-prefixed UTF-8 (the CRDT module's `BinaryWriter`).
public enum SyncProtocol {
    public static let protocolID = "/vivim/sync/1.0.0"
    public static let version: UInt8 = 1

    /// Limits applied to every frame read from the network.
    public struct Limits: Sendable, Equatable {
        /// Largest frame body accepted (a full document delta travels in one frame).
        public var maxFrameLength = 8 << 20
        /// Most messages or document ids in one frame.
        public var maxDocumentsPerFrame = 1024
        public init() {}
    }

    public enum Error: Swift.Error, Equatable, Sendable {
        case unsupportedVersion(UInt8)
        case unknownTag(UInt8)
        case emptyFrame
        case tooManyDocuments(count: UInt64, limit: Int)
        case documentIDTooLong(Int)
        case malformed(String)
    }

    /// One frame of the protocol.
    public enum Frame: Equatable, Sendable {
        case messages([SyncMessage])
        case denied([DocumentID])

        /// The body, without the length prefix.
        public var body: [UInt8] {
            var writer = BinaryWriter(reservingCapacity: 256)
            writer.write(byte: SyncProtocol.version)
            switch self {
            case .messages(let messages):
                writer.write(byte: 1)
                writer.write(count: messages.count)
                for message in messages { message.encode(to: &writer) }
            case .denied(let ids):
                writer.write(byte: 2)
                writer.write(count: ids.count)
                for id in ids { writer.write(id) }
            }
            return writer.bytes
        }

        /// `uvarint(length) ‖ body`, as written to the stream.
        public var framed: [UInt8] { VarintFrame.encode(body) }

        /// Decodes a frame body (the length prefix already checked against
        /// `limits.maxFrameLength` by the reader). Throws, never traps.
        public init(decoding body: [UInt8], limits: Limits = .init()) throws {
            guard body.count <= limits.maxFrameLength else {
                throw Error.malformed("frame of \(body.count) bytes exceeds \(limits.maxFrameLength)")
            }
            var reader = BinaryReader(body)
            do {
                let version = try reader.readByte()
                guard version == SyncProtocol.version else { throw Error.unsupportedVersion(version) }
                let tag = try reader.readByte()
                guard tag == 1 || tag == 2 else { throw Error.unknownTag(tag) }
                let count = try reader.readVarint()
                guard count > 0 else { throw Error.emptyFrame }
                guard count <= UInt64(limits.maxDocumentsPerFrame) else {
                    throw Error.tooManyDocuments(count: count, limit: limits.maxDocumentsPerFrame)
                }
                if tag == 1 {
                    var messages: [SyncMessage] = []
                    for _ in 0..<Int(count) {
                        let message = try SyncMessage(from: &reader)
                        try Self.check(message.document)
                        messages.append(message)
                    }
                    self = .messages(messages)
                } else {
                    var ids: [DocumentID] = []
                    for _ in 0..<Int(count) {
                        let id = try DocumentID(from: &reader)
                        try Self.check(id)
                        ids.append(id)
                    }
                    self = .denied(ids)
                }
                try reader.expectEnd()
            } catch let error as SyncProtocol.Error {
                throw error
            } catch {
                throw Error.malformed("\(error)")
            }
        }

        static func check(_ id: DocumentID) throws {
            let length = id.rawValue.utf8.count
            guard length > 0, length <= DocumentID.maxLength else { throw Error.documentIDTooLong(length) }
        }
    }
}

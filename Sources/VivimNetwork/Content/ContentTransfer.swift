import Crypto
import VivimCore

/// The network key of a bundle: the SHA-256 multihash of its bytes
/// (`0x12 0x20 ‖ digest`). Providers of a bundle published under a content id are found
/// under ``providerKey(contentID:)``; a bundle known only by its hash, under ``key``.
public struct ContentHash: Hashable, Sendable, CustomStringConvertible {
    public let multihash: Multihash

    public init(of bytes: [UInt8]) { multihash = .sha256(bytes) }

    public init(multihashBytes: [UInt8]) throws(WireError) {
        let mh = try Multihash(bytes: multihashBytes)
        guard mh.code == Multihash.sha256Code else { throw .invalidValue("content hash must be sha2-256") }
        multihash = mh
    }

    /// The multihash bytes (the DHT provider key of a bundle known only by its hash).
    public var key: [UInt8] { multihash.bytes }

    /// The DHT provider key of a content id (SPEC §8.2): the SHA-256 multihash of its UTF-8
    /// bytes, `0x12 0x20 ‖ SHA-256(contentId)` — the key a libp2p node uses for a CID with
    /// that digest, so any libp2p implementation finds the providers from the content id alone.
    /// (The signed ``ContentRecord`` stays under `/vivim/record/<contentId>`.)
    public static func providerKey(contentID: String) -> [UInt8] { Multihash.sha256(Array(contentID.utf8)).bytes }

    /// Whether `bytes` are the content this hash names.
    public func matches(_ bytes: [UInt8]) -> Bool { Array(SHA256.hash(data: bytes)) == multihash.digest }

    public var description: String { Base58.encode(key) }
}

/// `/vivim/content/1.0.0`: fetch a bundle by hash. The requester sends one
/// varint-framed `ContentRequest { bytes hash = 1 }`; the provider answers with
/// a varint-framed `ContentResponse { Status status = 1; uint64 size = 2 }`,
/// then exactly `size` raw bytes, then closes. The requester verifies the bytes
/// against the hash before handing them out.
public enum ContentTransferProtocol {
    public static let protocolID = "/vivim/content/1.0.0"
    static let maxControlMessage = 256

    public enum Status: UInt64, Sendable { case ok = 0, notFound = 1, busy = 2, tooLarge = 3 }

    public static func encodeRequest(_ hash: ContentHash) -> [UInt8] {
        var w = ProtobufWriter()
        w.writeBytes(field: 1, hash.key)
        return VarintFrame.encode(w.bytes)
    }

    public static func decodeRequest(_ body: [UInt8]) throws(WireError) -> ContentHash {
        var r = ProtobufReader(body, maxFields: 4)
        var hash: ContentHash?
        while let (f, v) = try r.next() {
            if f == 1 { hash = try ContentHash(multihashBytes: v.data(field: 1)) }
        }
        guard let hash else { throw .missingField("ContentRequest.hash") }
        return hash
    }

    public static func encodeResponse(_ status: Status, size: UInt64 = 0) -> [UInt8] {
        var w = ProtobufWriter()
        w.writeVarint(field: 1, status.rawValue)
        if status == .ok { w.writeVarint(field: 2, size) }
        return VarintFrame.encode(w.bytes)
    }

    public static func decodeResponse(_ body: [UInt8]) throws(WireError) -> (Status, UInt64) {
        var r = ProtobufReader(body, maxFields: 4)
        var status: Status?
        var size: UInt64 = 0
        while let (f, v) = try r.next() {
            switch f {
            case 1:
                guard let s = Status(rawValue: try v.uint64(field: 1)) else { throw .invalidValue("unknown content status") }
                status = s
            case 2: size = try v.uint64(field: 2)
            default: continue
            }
        }
        guard let status else { throw .missingField("ContentResponse.status") }
        return (status, size)
    }
}

import Foundation
import VivimCRDT
// @testable (debug builds are testable): the revocation-notice parser and the hex helper are internal.
@testable import VivimNetwork

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The decoder selected by `FUZZ_TARGET` (default: all of them on every input).
let target: String = getenv("FUZZ_TARGET").map { String(cString: $0) } ?? "all"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let all = target == "all"
    if all || target == "kad" { _ = try? KadMessage(decoding: bytes) }
    if all || target == "identify" { _ = try? IdentifyMessage(stream: bytes) }
    if all || target == "noise-payload" { _ = try? NoiseHandshakePayload(decoding: bytes) }
    if all || target == "multiaddr" { _ = try? Multiaddr(bytes: bytes); _ = try? Multiaddr(String(decoding: bytes, as: UTF8.self)) }
    if all || target == "peerid" { _ = try? PeerID(bytes: bytes); _ = try? PeerPublicKey(protobuf: bytes) }
    if all || target == "multistream" {
        var m = MultistreamSelect(role: .responder(supported: ["/noise"]))
        _ = try? m.receive(bytes)
    }
    if all || target == "yamux" {
        var s = YamuxSession(role: .server)
        _ = try? s.receive(bytes)
    }
    if all || target == "pubsub" {
        if let rpc = try? PubSubRPC(decoding: bytes) {
            var router = GossipsubRouter(identity: fuzzIdentity)
            let peer = fuzzIdentity.peerID
            _ = router.addPeer(peer)
            _ = router.handle(rpc, from: peer, now: .zero)
        }
    }
    if all || target == "content" {
        _ = try? ContentTransferProtocol.decodeRequest(bytes)
        _ = try? ContentTransferProtocol.decodeResponse(bytes)
        _ = try? ReplicationProtocol.decodeRequest(bytes)
        _ = try? ReplicationProtocol.decodeResponse(bytes)
    }
    if all || target == "dns" {
        _ = try? DNSMessage(decoding: bytes)
        _ = fuzzDiscovery.receive(bytes, now: .zero)
    }
    if all || target == "connection" {
        var c = SecureConnection(role: .listener, identity: fuzzIdentity)
        c.start()
        _ = try? c.receive(bytes)
    }
    if all || target == "content-record" { fuzzContentRecord(bytes) }
    if all || target == "kad-node" { fuzzKadNode(bytes) }
    if all || target == "revocation" { fuzzRevocationNotice(bytes) }
    if all || target == "storage-index" { fuzzStorageIndex(bytes) }
    if all || target == "sync" { fuzzSyncFrame(bytes) }
    if all || target == "crdt" { fuzzCRDT(bytes) }
    if all || target == "frames" { fuzzFrames(bytes) }
    return 0
}

// MARK: issue 11: the decoders the first harness missed, each with the Sans-IO core that consumes it

/// A DHT content record (PUT_VALUE / GET_VALUE value, SPEC §8.2) and what a node does with one:
/// validity at extreme clocks, the revocation check, merging with a stored record.
func fuzzContentRecord(_ bytes: [UInt8]) {
    guard let record = try? ContentRecord(decoding: bytes) else { return }
    for now: UInt64 in [0, 1, 1 << 32, .max] { _ = record.isValid(unixNow: now) }
    if let owner = record.owner { _ = record.isRevocation(by: owner) }
    _ = record.isRevocation(by: fuzzIdentity.peerID)
    _ = ContentRecord.merge(record, record).encoded
    _ = ContentRecord.merge(fuzzSeedRecord, record).encoded
    _ = ContentRecord.merge(record, fuzzSeedRecord).encoded
    _ = record.revoked(at: .max).encoded
}

/// A Kademlia request served by the node (ADD_PROVIDER, PUT_VALUE with a content record, …),
/// then a GET_VALUE of the same key and a clock jump to the end of time.
func fuzzKadNode(_ bytes: [UInt8]) {
    guard let message = try? KadMessage(decoding: bytes) else { return }
    var node = KademliaNode(localPeer: fuzzIdentity.peerID)
    let sender = fuzzOther.peerID
    _ = node.handleRequest(from: sender, addrs: [fuzzAddress], message, now: NetworkInstant(nanoseconds: 1 << 40))
    _ = node.handleRequest(from: sender, KadMessage(type: .getValue, key: message.key), now: .distantFuture)
    _ = node.handleRequest(from: sender, KadMessage(type: .getProviders, key: message.key), now: .distantFuture)
    var rng = SystemRandomNumberGenerator()
    _ = node.tick(now: .distantFuture, rng: &rng)
}

/// A `content.revoked` gossip notice parsed as `VivimNode` does, its record checked, and
/// the storage core told about it.
func fuzzRevocationNotice(_ bytes: [UInt8]) {
    guard bytes.count <= VivimNode.maxNotice, bytes.starts(with: VivimNode.revocationPrefix),
          let notice = try? JSONDecoder().decode(VivimNode.RevocationNotice.self, from: Data(bytes)),
          notice.type == "content.revoked", let recordBytes = ContentStore.unhex(notice.record),
          let record = try? ContentRecord(decoding: recordBytes), record.contentID == notice.contentId,
          let owner = record.owner else { return }
    guard record.isRevocation(by: owner) else { return }
    var storage = StorageManager(localPeer: fuzzIdentity.peerID)
    _ = storage.stored(record.bundleHash, size: Int(truncatingIfNeeded: record.metadata.size & 0xFFFF), origin: .fetched,
                       owner: owner, now: .zero)
    _ = storage.revocationSeen(record.bundleHash, by: owner, now: NetworkInstant(nanoseconds: .max))
}

/// The on-disk storage index (disk input, not peer input, but a torn or tampered file must not
/// crash a restart): decoded, restored into a storage core at both ends of the clock, ticked and
/// snapshotted again.
func fuzzStorageIndex(_ bytes: [UInt8]) {
    let decoded = StorageIndex.decode(bytes)
    var files: [ContentHash: Int] = [:]
    // The shell reports real file sizes (verified bytes on disk), never the index's claim.
    for item in decoded.index.items { files[item.hash] = min(item.size, 1 << 40) }
    for (now, unixNow): (NetworkInstant, UInt64) in [(.zero, 0), (NetworkInstant(nanoseconds: 1 << 50), 1_700_000_000), (.distantFuture, .max)] {
        var storage = StorageManager(localPeer: fuzzIdentity.peerID)
        _ = storage.restore(decoded.index, files: files, now: now, unixNow: unixNow)
        _ = storage.tick(now: now)
        _ = storage.tick(now: .distantFuture)
        _ = storage.snapshot(now: now, unixNow: unixNow).encoded
    }
}

/// A `/vivim/sync/1.0.0` frame body and the CRDT sync core fed its messages: the document of
/// each message is created on first sight (bounded by the frame's own document limit).
func fuzzSyncFrame(_ bytes: [UInt8]) {
    guard let frame = try? SyncProtocol.Frame(decoding: bytes) else { return }
    guard case .messages(let messages) = frame else { return }
    var cores: [DocumentID: CRDTSyncCore<Int>] = [:]
    for message in messages {
        var core = cores[message.document] ?? CRDTSyncCore(document: fuzzSeedDocument(message.document))
        _ = core.handle(.received(message, from: 1))
        _ = core.handle(.antiEntropyTick)
        readViews(core.document)
        cores[message.document] = core
    }
}

/// Every CRDT decoder (documents, updates, sync messages, each state type), each decoded value
/// merged into or applied to a non-empty document and read back through the shared-document views.
func fuzzCRDT(_ bytes: [UInt8]) {
    if let message = try? SyncMessage(decoding: bytes) {
        var core = CRDTSyncCore<Int>(document: fuzzSeedDocument(message.document))
        _ = core.handle(.received(message, from: 2))
        readViews(core.document)
    }
    if let update = try? CRDTUpdate(decoding: bytes) {
        var document = fuzzSeedDocument(update.document)
        _ = document.apply(update)
        _ = document.apply(update)
        readViews(document)
        _ = document.update(since: StateVector()).encoded()
    }
    if let document = try? CRDTDocument.load(bytes, replica: ReplicaID(3)) {
        readViews(document)
        var copy = fuzzSeedDocument(document.id)
        _ = copy.apply(document.update(since: StateVector()))
        readViews(copy)
    }
    if var value = try? RGASequence<Unicode.Scalar>(decoding: bytes) {
        value.merge(fuzzSeedText)
        _ = value.text
        _ = value.delta(since: StateVector()).encoded()
    }
    if var value = try? RGASequence<CRDTValue>(decoding: bytes) { value.merge(value); _ = value.elements }
    if var value = try? ORSet<CRDTValue>(decoding: bytes) { value.merge(value); _ = value.elements }
    if var value = try? LWWMap<String, CRDTValue>(decoding: bytes) { value.merge(value); _ = value.values }
    if var value = try? LWWRegister<CRDTValue>(decoding: bytes) { value.merge(value); _ = value.value }
    if var value = try? GCounter(decoding: bytes) { value.merge(value); _ = value.value }
    if var value = try? PNCounter(decoding: bytes) { value.merge(value); _ = value.value }
    if let value = try? StateVector(decoding: bytes) { _ = value.isCovered(by: fuzzSeedDocument("a").stateVector) }
}

/// Length-prefixed framing and the protobuf field walker under every protocol.
func fuzzFrames(_ bytes: [UInt8]) {
    var buffer = bytes
    for _ in 0..<8 { guard (try? VarintFrame.decode(&buffer, maxLength: 1 << 20)) != nil else { break } }
    _ = try? UVarint.decode(bytes)
    var reader = ProtobufReader(bytes, maxFields: 64)
    while let field = try? reader.next() {
        _ = try? field.value.uint64(field: field.field)
        _ = try? field.value.data(field: field.field)
    }
}

/// What the application reads out of a synced document.
func readViews(_ document: CRDTDocument) {
    _ = ViewCounter(document).total
    _ = ViewCounter(document).servedByNode
    _ = AnnotationThread(document).annotations
    _ = SharedCollection(document).contentIds
    _ = SharedCollection(document).title
    _ = OfflineActionQueue(document).entries
    _ = OfflineActionQueue(document).pending
    for name in ["body", "views", "balance", "set", "m", "r", "l"] {
        _ = document.text(name); _ = document.counter(name); _ = document.pnCounter(name)
        _ = document.set(name); _ = document.map(name); _ = document.list(name); _ = document.register(name)
    }
}

/// A non-empty document with every kind of field, so merges meet existing state.
func fuzzSeedDocument(_ id: DocumentID) -> CRDTDocument {
    var doc = CRDTDocument(id: id, replica: ReplicaID(77))
    doc.insertText("hello", at: 0, in: "body")
    doc.increment("views", by: 9)
    doc.add(-4, toCounter: "balance")
    doc.insert(.string("x"), intoSet: "set")
    doc.setValue(.bool(true), forKey: "k", inMap: "m", wallClock: 9)
    doc.setRegister("r", to: .int(1), wallClock: 9)
    doc.insert([.string("a")], at: 0, inList: "l")
    return doc
}

let fuzzOther = try! PeerKeyPair(seed: [UInt8](repeating: 8, count: 32))
let fuzzAddress = try! Multiaddr("/ip4/10.0.0.2/tcp/4001")
let fuzzSeedText: RGASequence<Unicode.Scalar> = {
    var s = RGASequence<Unicode.Scalar>()
    _ = s.insert(contentsOf: "seed".unicodeScalars, at: 0, replica: ReplicaID(9), firstCounter: 0)
    return s
}()
/// A valid signed record, merged with every decoded one.
let fuzzSeedRecord: ContentRecord = {
    var r = ContentRecord(contentID: "seed", contentType: "text/plain", bundleHash: ContentHash(of: [1, 2, 3]),
                          metadata: .init(size: 3, createdAt: 1_700_000_000, expiresAt: 1_800_000_000, replicationFactor: 3),
                          owner: fuzzIdentity.peerID)
    try! r.sign(as: fuzzIdentity, addrs: [fuzzAddress], at: 1_700_000_000)
    return r
}()

let fuzzIdentity = try! PeerKeyPair(seed: [UInt8](repeating: 7, count: 32))

/// The mDNS state machine fed every input (its peer table is capped, so it stays small).
nonisolated(unsafe) var fuzzDiscovery: MDNSDiscovery = {
    var rng = SystemRandomNumberGenerator()
    return MDNSDiscovery(localPeer: fuzzIdentity.peerID, listenAddresses: [try! Multiaddr("/ip4/10.0.0.1/tcp/4001")], rng: &rng)
}()

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

/// SwiftPM links an executable's entry point as `<module>_main`; hand control to libFuzzer's driver.
@_cdecl("FuzzDecoders_main")
func fuzzDecodersMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    if let dir = getenv("FUZZ_WRITE_SEEDS").map({ String(cString: $0) }) {
        writeSeeds(into: dir)
        return 0
    }
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data, size) }
}

// MARK: seed corpus

/// `FUZZ_WRITE_SEEDS=corpus FuzzDecoders` writes small valid encodings, made by the real
/// encoders, for the targets added in issue 11 (run once; the files are checked in).
func writeSeeds(into dir: String) {
    func write(_ target: String, _ name: String, _ bytes: [UInt8]) {
        let folder = dir + "/" + target
        try! FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: folder + "/" + name, contents: Data(bytes))
    }
    func body(_ framed: [UInt8]) -> [UInt8] {
        var buffer = framed
        return (try? VarintFrame.decode(&buffer, maxLength: 1 << 20)) ?? []
    }
    // content-record
    var revocation = fuzzSeedRecord.revoked(at: 1_750_000_000)
    try! revocation.sign(as: fuzzIdentity, addrs: [], at: 1_750_000_000)
    var twoProviders = fuzzSeedRecord
    try! twoProviders.sign(as: fuzzOther, addrs: [fuzzAddress, try! Multiaddr("/dns/example.org/tcp/4001")], at: 1_700_000_100)
    var firstVersion = ContentRecord(contentID: "v1", contentType: "", bundleHash: ContentHash(of: [9]),
                                     metadata: .init(size: 1, createdAt: 0, replicationFactor: 1))
    try! firstVersion.sign(as: fuzzOther, addrs: [], at: 1)
    write("content-record", "signed", fuzzSeedRecord.encoded)
    write("content-record", "revocation", revocation.encoded)
    write("content-record", "two-providers", twoProviders.encoded)
    write("content-record", "first-version", firstVersion.encoded)
    // kad-node
    let key = fuzzSeedRecord.key
    write("kad-node", "put-content-record", KadMessage(type: .putValue, key: key, record: .init(key: key, value: twoProviders.encoded)).encoded)
    write("kad-node", "put-revocation", KadMessage(type: .putValue, key: key, record: .init(key: key, value: revocation.encoded)).encoded)
    write("kad-node", "add-provider", KadMessage(type: .addProvider, key: [1, 2, 3],
                                                 providerPeers: [.init(id: fuzzOther.peerID, addrs: [fuzzAddress])]).encoded)
    write("kad-node", "get-value", KadMessage(type: .getValue, key: key).encoded)
    // revocation
    write("revocation", "notice", VivimNode.revocationNotice(revocation))
    // storage-index
    let index = StorageIndex(items: [
        .init(hash: ContentHash(of: [1]), origin: .own, owner: nil, size: 1, replicationFactor: 3, pinned: true, expiresAt: 1_800_000_000,
              lastAccess: 1_700_000_000, replicas: [fuzzOther.peerID], refused: [], contentID: "c", contentType: "text/plain",
              createdAt: 1_700_000_000, topics: ["content:c"]),
        .init(hash: ContentHash(of: [2]), origin: .replica(owner: fuzzOther.peerID), owner: nil, size: 1, replicationFactor: 0,
              pinned: false, expiresAt: nil, lastAccess: 5, replicas: [], refused: [], contentID: nil, contentType: nil,
              createdAt: nil, topics: []),
    ], graves: [
        .init(hash: ContentHash(of: [3]), owner: fuzzIdentity.peerID, reason: .revoked, at: 1_700_000_000,
              unacknowledged: [fuzzOther.peerID: 2], abandoned: []),
    ])
    write("storage-index", "items-and-grave", index.encoded)
    write("storage-index", "empty", StorageIndex().encoded)
    // sync and crdt
    let document = fuzzSeedDocument("collection:fuzz")
    var later = document
    later.insertText(" world", at: 5, in: "body")
    let update = later.update(since: document.stateVector)
    write("sync", "messages", SyncProtocol.Frame.messages([.stateVector(document.id, document.stateVector),
                                                           .delta(document.update(since: StateVector())), .update(update)]).body)
    write("sync", "denied", SyncProtocol.Frame.denied(["collection:a", "views:b"]).body)
    write("crdt", "delta", SyncMessage.delta(document.update(since: StateVector())).encoded())
    write("crdt", "state-vector", SyncMessage.stateVector(document.id, later.stateVector).encoded())
    write("crdt", "update", update.encoded())
    write("crdt", "document", later.encodedState())
    write("crdt", "text", fuzzSeedText.encoded())
    var counter = PNCounter()
    counter.add(-5, at: Dot(replica: ReplicaID(1), counter: 1))
    counter.add(7, at: Dot(replica: ReplicaID(2), counter: 1))
    write("crdt", "pn-counter", counter.encoded())
    // content (ContentTransfer and replication bodies, no seeds before)
    write("content", "transfer-request", body(ContentTransferProtocol.encodeRequest(ContentHash(of: [1]))))
    write("content", "transfer-response", body(ContentTransferProtocol.encodeResponse(.ok, size: 1 << 20)))
    write("content", "replicate", body(ReplicationProtocol.encode(.init(kind: .replicate, hash: ContentHash(of: [1]), size: 3, expiresIn: 3600))))
    // frames
    write("frames", "two-frames", VarintFrame.encode([1, 2, 3]) + VarintFrame.encode(fuzzSeedRecord.encoded))
}

/// The pubsub RPC of gossipsub (`/meshsub/1.1.0`; libp2p/specs pubsub/README.md
/// and pubsub/gossipsub/gossipsub-v1.0.md, v1.1.md), each RPC sent as an
/// unsigned-varint-length-prefixed protobuf on a long-lived stream.
public struct PubSubRPC: Equatable, Sendable {
    public static let protocolID = "/meshsub/1.1.0"
    public static let maxLength = 1 << 20
    static let maxEntries = 5000
    /// Fields read in a small nested message (a subscription, a GRAFT, a PRUNE peer record):
    /// room for extensions, which are skipped.
    static let maxNestedFields = 64
    /// Peer-exchange records kept from one PRUNE (go-libp2p sends at most 16); more are skipped.
    public static let maxPrunePeers = 16

    public struct Subscription: Equatable, Sendable {
        public var subscribe: Bool
        public var topic: String
        public init(subscribe: Bool, topic: String) { self.subscribe = subscribe; self.topic = topic }
    }

    /// A published message. With StrictSign, `from`, `seqno` and `signature` are required.
    public struct Message: Equatable, Sendable {
        public var from: [UInt8] { didSet { wire = nil } }
        public var data: [UInt8] { didSet { wire = nil } }
        public var seqno: [UInt8] { didSet { wire = nil } }
        public var topic: String { didSet { wire = nil } }
        public var signature: [UInt8]? { didSet { wire = nil } }
        public var key: [UInt8]? { didSet { wire = nil } }
        /// The protobuf encoding as received or as signed, so a message forwarded to several
        /// peers is encoded once (not part of equality; any field change clears it).
        private var wire: [UInt8]?

        public static func == (a: Message, b: Message) -> Bool {
            a.from == b.from && a.seqno == b.seqno && a.signature == b.signature && a.topic == b.topic
                && a.data == b.data && a.key == b.key
        }

        public init(from: [UInt8], data: [UInt8], seqno: [UInt8], topic: String, signature: [UInt8]? = nil, key: [UInt8]? = nil) {
            self.from = from
            self.data = data
            self.seqno = seqno
            self.topic = topic
            self.signature = signature
            self.key = key
        }

        /// Default message id of the spec: `from ‖ seqno`.
        public var id: [UInt8] { from + seqno }

        /// Fields 1–4 in field order: the bytes that are signed (after the prefix).
        var unsignedEncoding: [UInt8] {
            var w = ProtobufWriter()
            writeUnsigned(to: &w)
            return w.bytes
        }

        private func writeUnsigned(to w: inout ProtobufWriter) {
            w.writeBytes(field: 1, from)
            w.writeBytes(field: 2, data)
            w.writeBytes(field: 3, seqno)
            w.writeString(field: 4, topic)
        }

        /// `signaturePrefix ‖ unsignedEncoding`, built in one buffer.
        var signedBytes: [UInt8] {
            var w = ProtobufWriter(prefix: Self.signaturePrefix, capacity: Self.signaturePrefix.count + from.count + data.count + seqno.count + topic.utf8.count + 16)
            writeUnsigned(to: &w)
            return w.bytes
        }

        var encoded: [UInt8] {
            if let wire { return wire }
            var w = ProtobufWriter()
            writeUnsigned(to: &w)
            if let signature { w.writeBytes(field: 5, signature) }
            if let key { w.writeBytes(field: 6, key) }
            return w.bytes
        }

        /// Keeps `bytes` as the message's encoding (it was decoded from exactly these bytes).
        fileprivate mutating func keepWire(_ bytes: [UInt8]) { wire = bytes }

        public static let signaturePrefix = Array("libp2p-pubsub:".utf8)

        /// Signs as StrictSign requires; the key is inlined in Ed25519 peer ids, so `key` stays empty.
        public static func signed(by identity: PeerKeyPair, data: [UInt8], seqno: UInt64, topic: String) throws -> Message {
            var seq: [UInt8] = []
            seq.appendUInt32BE(UInt32(seqno >> 32))
            seq.appendUInt32BE(UInt32(seqno & 0xFFFF_FFFF))
            var m = Message(from: identity.peerID.bytes, data: data, seqno: seq, topic: topic)
            m.signature = try identity.sign(m.signedBytes)
            m.wire = m.encoded
            return m
        }

        /// StrictSign validation: a valid author id, an 8-byte seqno, and a
        /// signature by the author's key (inlined in the id, or `key` matching it).
        public func verifiedAuthor() -> PeerID? {
            guard let signature, seqno.count == 8, let author = try? PeerID(bytes: from) else { return nil }
            let publicKey: PeerPublicKey
            if let key, !key.isEmpty {
                guard let k = try? PeerPublicKey(protobuf: key), author.matches(k) else { return nil }
                publicKey = k
            } else {
                guard let k = author.inlinePublicKey else { return nil }
                publicKey = k
            }
            return publicKey.verify(signature: signature, for: signedBytes) ? author : nil
        }
    }

    public struct IHave: Equatable, Sendable { public var topic: String; public var messageIDs: [[UInt8]] }
    public struct Prune: Equatable, Sendable {
        public var topic: String
        public var peers: [PeerID]
        /// Seconds the pruned peer must wait before grafting again (v1.1).
        public var backoff: UInt64?
    }

    public struct Control: Equatable, Sendable {
        public var ihave: [IHave] = []
        public var iwant: [[UInt8]] = []
        public var graft: [String] = []
        public var prune: [Prune] = []
        public init() {}
        public var isEmpty: Bool { ihave.isEmpty && iwant.isEmpty && graft.isEmpty && prune.isEmpty }

        mutating func merge(_ other: Control) {
            ihave += other.ihave
            iwant += other.iwant
            graft += other.graft
            prune += other.prune
        }
    }

    public var subscriptions: [Subscription]
    public var messages: [Message]
    public var control: Control?

    public init(subscriptions: [Subscription] = [], messages: [Message] = [], control: Control? = nil) {
        self.subscriptions = subscriptions
        self.messages = messages
        self.control = control
    }

    public var isEmpty: Bool { subscriptions.isEmpty && messages.isEmpty && (control?.isEmpty ?? true) }

    public var encoded: [UInt8] {
        var w = ProtobufWriter()
        for s in subscriptions {
            var sw = ProtobufWriter()
            sw.writeVarint(field: 1, s.subscribe ? 1 : 0)
            sw.writeString(field: 2, s.topic)
            w.writeBytes(field: 1, sw.bytes)
        }
        for m in messages { w.writeBytes(field: 2, m.encoded) }
        if let control, !control.isEmpty {
            var cw = ProtobufWriter()
            for ih in control.ihave {
                var x = ProtobufWriter()
                x.writeString(field: 1, ih.topic)
                for id in ih.messageIDs { x.writeBytes(field: 2, id) }
                cw.writeBytes(field: 1, x.bytes)
            }
            if !control.iwant.isEmpty {
                var x = ProtobufWriter()
                for id in control.iwant { x.writeBytes(field: 1, id) }
                cw.writeBytes(field: 2, x.bytes)
            }
            for g in control.graft {
                var x = ProtobufWriter()
                x.writeString(field: 1, g)
                cw.writeBytes(field: 3, x.bytes)
            }
            for p in control.prune {
                var x = ProtobufWriter()
                x.writeString(field: 1, p.topic)
                for peer in p.peers {
                    var pi = ProtobufWriter()
                    pi.writeBytes(field: 1, peer.bytes)
                    x.writeBytes(field: 2, pi.bytes)
                }
                if let b = p.backoff { x.writeVarint(field: 3, b) }
                cw.writeBytes(field: 4, x.bytes)
            }
            w.writeBytes(field: 3, cw.bytes)
        }
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws(WireError) {
        guard bytes.count <= Self.maxLength else { throw .lengthExceedsLimit(length: UInt64(bytes.count), limit: Self.maxLength) }
        self.init()
        var reader = ProtobufReader(bytes, maxFields: Self.maxEntries)
        while let (field, value) = try reader.next() {
            switch field {
            case 1:
                var r = ProtobufReader(try value.data(field: 1), maxFields: Self.maxNestedFields)
                var sub = Subscription(subscribe: false, topic: "")
                while let (f, v) = try r.next() {
                    if f == 1 { sub.subscribe = try v.uint64(field: 1) != 0 }
                    if f == 2 { sub.topic = try v.string(field: 2) }
                }
                subscriptions.append(sub)
            case 2:
                messages.append(try Self.decodeMessage(value.data(field: 2)))
            case 3:
                // A repeated embedded message merges (protobuf encoding §"Last One Wins").
                let more = try Self.decodeControl(value.data(field: 3))
                if control == nil { control = more } else { control!.merge(more) }
            default:
                continue
            }
        }
    }

    static func decodeMessage(_ bytes: [UInt8]) throws(WireError) -> Message {
        var r = ProtobufReader(bytes, maxFields: 64)
        var m = Message(from: [], data: [], seqno: [], topic: "")
        var topics = 0
        while let (f, v) = try r.next() {
            switch f {
            case 1: m.from = try v.data(field: 1)
            case 2: m.data = try v.data(field: 2)
            case 3: m.seqno = try v.data(field: 3)
            case 4:
                topics += 1
                guard topics == 1 else { throw .invalidValue("a message has exactly one topic") }
                m.topic = try v.string(field: 4)
            case 5: m.signature = try v.data(field: 5)
            case 6: m.key = try v.data(field: 6)
            default: continue
            }
        }
        m.keepWire(bytes)
        return m
    }

    static func decodeControl(_ bytes: [UInt8]) throws(WireError) -> Control {
        var r = ProtobufReader(bytes, maxFields: maxEntries)
        var c = Control()
        while let (f, v) = try r.next() {
            switch f {
            case 1:
                var x = ProtobufReader(try v.data(field: 1), maxFields: maxEntries)
                var ih = IHave(topic: "", messageIDs: [])
                while let (g, w) = try x.next() {
                    if g == 1 { ih.topic = try w.string(field: 1) }
                    if g == 2 { ih.messageIDs.append(try w.data(field: 2)) }
                }
                c.ihave.append(ih)
            case 2:
                var x = ProtobufReader(try v.data(field: 2), maxFields: maxEntries)
                while let (g, w) = try x.next() { if g == 1 { c.iwant.append(try w.data(field: 1)) } }
            case 3:
                var x = ProtobufReader(try v.data(field: 3), maxFields: maxNestedFields)
                while let (g, w) = try x.next() { if g == 1 { c.graft.append(try w.string(field: 1)) } }
            case 4:
                var x = ProtobufReader(try v.data(field: 4), maxFields: maxEntries)
                var p = Prune(topic: "", peers: [], backoff: nil)
                while let (g, w) = try x.next() {
                    switch g {
                    case 1: p.topic = try w.string(field: 1)
                    case 2:
                        let record = try w.data(field: 2)
                        guard p.peers.count < maxPrunePeers else { continue }
                        var pi = ProtobufReader(record, maxFields: maxNestedFields)
                        while let (h, y) = try pi.next() {
                            if h == 1, let id = try? PeerID(bytes: y.data(field: 1)) { p.peers.append(id) }
                        }
                    case 3: p.backoff = try w.uint64(field: 3)
                    default: continue
                    }
                }
                c.prune.append(p)
            default:
                continue  // IDONTWANT (v1.2) and extensions are ignored
            }
        }
        return c
    }
}

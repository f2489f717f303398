/// A domain name (RFC 1035 §3.1): a sequence of labels, compared case-insensitively
/// (ASCII only, RFC 4343).
public struct DNSName: Hashable, Sendable, CustomStringConvertible {
    /// Longest label and longest name on the wire (RFC 1035 §2.3.4).
    public static let maxLabelLength = 63
    public static let maxWireLength = 255

    public let labels: [[UInt8]]

    /// Labels as given; ``DNSMessage/encoded()`` checks the length limits.
    public init(labels: [[UInt8]]) { self.labels = labels }

    /// `"_p2p._udp.local"` (a trailing dot is allowed; empty labels are dropped).
    public init(_ text: String) {
        labels = text.split(separator: ".").map { Array($0.utf8) }
    }

    /// The name with `label` put in front: `"abc" + _p2p._udp.local`.
    public func prepending(_ label: String) -> DNSName { DNSName(labels: [Array(label.utf8)] + labels) }

    /// Bytes on the wire without compression: one length byte per label, the labels, a zero byte.
    public var wireLength: Int { labels.reduce(1) { $0 + 1 + $1.count } }

    public var description: String {
        labels.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ".")
    }

    private var folded: [[UInt8]] {
        labels.map { $0.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 } }
    }

    public static func == (a: DNSName, b: DNSName) -> Bool { a.folded == b.folded }
    public func hash(into hasher: inout Hasher) { hasher.combine(folded) }
}

/// A DNS message (RFC 1035 §4.1) as used by Multicast DNS (RFC 6762): header,
/// questions and the three record sections, with the record types mDNS discovery
/// needs (A, AAAA, PTR, TXT, SRV) decoded and any other kept as raw bytes.
///
/// Decoding is bounded: at most ``maxMessageLength`` bytes and ``maxEntries``
/// questions and records; names follow compression pointers only backwards and at
/// most ``maxPointerJumps`` times, and stay within 255 bytes; every read is
/// bounds-checked and malformed input throws ``WireError``.
public struct DNSMessage: Sendable, Equatable {
    /// RFC 6762 §17: an mDNS message is at most 9000 bytes.
    public static let maxMessageLength = 9000
    /// Questions plus records in one message.
    public static let maxEntries = 256
    /// Compression pointers followed while reading one name.
    public static let maxPointerJumps = 32
    /// Strings in one TXT record.
    public static let maxTXTStrings = 64

    public struct RecordType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        public static let a = RecordType(rawValue: 1)
        public static let ptr = RecordType(rawValue: 12)
        public static let txt = RecordType(rawValue: 16)
        public static let aaaa = RecordType(rawValue: 28)
        public static let srv = RecordType(rawValue: 33)
        /// `*` in a question (RFC 1035 §3.2.3, QTYPE 255).
        public static let any = RecordType(rawValue: 255)
        public var description: String {
            switch self {
            case .a: "A"
            case .ptr: "PTR"
            case .txt: "TXT"
            case .aaaa: "AAAA"
            case .srv: "SRV"
            case .any: "ANY"
            default: "TYPE\(rawValue)"
            }
        }
    }

    /// Class IN (RFC 1035 §3.2.4).
    public static let classIN: UInt16 = 1

    public struct Question: Sendable, Equatable {
        public var name: DNSName
        public var type: RecordType
        /// The class without the top bit.
        public var recordClass: UInt16
        /// RFC 6762 §5.4: the top bit of the class asks for a unicast answer ("QU").
        public var unicastResponse: Bool

        public init(name: DNSName, type: RecordType, recordClass: UInt16 = DNSMessage.classIN, unicastResponse: Bool = false) {
            self.name = name
            self.type = type
            self.recordClass = recordClass
            self.unicastResponse = unicastResponse
        }
    }

    public enum RecordData: Sendable, Equatable {
        case a([UInt8])
        case aaaa([UInt8])
        case ptr(DNSName)
        /// The record's `<character-string>`s (RFC 1035 §3.3.14), each ≤ 255 bytes.
        case txt([[UInt8]])
        case srv(priority: UInt16, weight: UInt16, port: UInt16, target: DNSName)
        case other(RecordType, [UInt8])

        public var type: RecordType {
            switch self {
            case .a: .a
            case .aaaa: .aaaa
            case .ptr: .ptr
            case .txt: .txt
            case .srv: .srv
            case .other(let t, _): t
            }
        }
    }

    public struct ResourceRecord: Sendable, Equatable {
        public var name: DNSName
        /// The class without the top bit.
        public var recordClass: UInt16
        /// RFC 6762 §10.2: the top bit of the class in a response ("cache flush").
        public var cacheFlush: Bool
        /// Seconds; 0 in an mDNS response means "goodbye" (RFC 6762 §10.1).
        public var ttl: UInt32
        public var data: RecordData

        public init(name: DNSName, ttl: UInt32, data: RecordData, recordClass: UInt16 = DNSMessage.classIN, cacheFlush: Bool = false) {
            self.name = name
            self.recordClass = recordClass
            self.cacheFlush = cacheFlush
            self.ttl = ttl
            self.data = data
        }
    }

    public var id: UInt16
    /// QR, opcode, AA, TC, RD, RA, Z, RCODE (RFC 1035 §4.1.1).
    public var flags: UInt16
    public var questions: [Question]
    public var answers: [ResourceRecord]
    public var authorities: [ResourceRecord]
    public var additionals: [ResourceRecord]

    public init(id: UInt16 = 0, flags: UInt16 = 0, questions: [Question] = [], answers: [ResourceRecord] = [],
                authorities: [ResourceRecord] = [], additionals: [ResourceRecord] = []) {
        self.id = id
        self.flags = flags
        self.questions = questions
        self.answers = answers
        self.authorities = authorities
        self.additionals = additionals
    }

    /// QR + AA: how an mDNS responder marks its answers (RFC 6762 §18.2, §18.4).
    public static let responseFlags: UInt16 = 0x8400

    public var isResponse: Bool { flags & 0x8000 != 0 }
    public var opcode: UInt8 { UInt8((flags >> 11) & 0x0F) }
    public var responseCode: UInt8 { UInt8(flags & 0x000F) }
    public var isTruncated: Bool { flags & 0x0200 != 0 }

    /// All records of the three sections.
    public var records: [ResourceRecord] { answers + authorities + additionals }

    // MARK: decoding

    public init(decoding bytes: [UInt8]) throws(WireError) {
        guard bytes.count <= Self.maxMessageLength else {
            throw .lengthExceedsLimit(length: UInt64(bytes.count), limit: Self.maxMessageLength)
        }
        var reader = Reader(bytes: bytes)
        id = try reader.uint16()
        flags = try reader.uint16()
        let counts = [try reader.uint16(), try reader.uint16(), try reader.uint16(), try reader.uint16()].map(Int.init)
        guard counts.reduce(0, +) <= Self.maxEntries else { throw .tooManyElements(limit: Self.maxEntries) }
        questions = []
        for _ in 0..<counts[0] {
            let name = try reader.name()
            let type = RecordType(rawValue: try reader.uint16())
            let rawClass = try reader.uint16()
            questions.append(Question(name: name, type: type, recordClass: rawClass & 0x7FFF, unicastResponse: rawClass & 0x8000 != 0))
        }
        answers = try (0..<counts[1]).map { _ throws(WireError) in try reader.record() }
        authorities = try (0..<counts[2]).map { _ throws(WireError) in try reader.record() }
        additionals = try (0..<counts[3]).map { _ throws(WireError) in try reader.record() }
    }

    /// A bounds-checked reader over the whole message (compression pointers may point anywhere before).
    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        mutating func byte() throws(WireError) -> UInt8 {
            guard index < bytes.count else { throw .truncated }
            defer { index += 1 }
            return bytes[index]
        }

        mutating func uint16() throws(WireError) -> UInt16 { UInt16(try byte()) << 8 | UInt16(try byte()) }

        mutating func uint32() throws(WireError) -> UInt32 { UInt32(try uint16()) << 16 | UInt32(try uint16()) }

        mutating func take(_ count: Int) throws(WireError) -> [UInt8] {
            guard count >= 0, count <= bytes.count - index else { throw .truncated }
            defer { index += count }
            return Array(bytes[index..<(index + count)])
        }

        /// A name at the cursor (RFC 1035 §4.1.4). A pointer must point before the label
        /// run that contains it, so every jump goes strictly backwards and the walk ends.
        mutating func name() throws(WireError) -> DNSName {
            var labels: [[UInt8]] = []
            var wireLength = 1
            var position = index
            var runStart = index
            var jumps = 0
            var resume: Int?
            while true {
                guard position < bytes.count else { throw .truncated }
                let length = bytes[position]
                switch length & 0xC0 {
                case 0x00:
                    if length == 0 {
                        index = resume ?? position + 1
                        return DNSName(labels: labels)
                    }
                    let count = Int(length)
                    guard count <= bytes.count - position - 1 else { throw .truncated }
                    wireLength += 1 + count
                    guard wireLength <= DNSName.maxWireLength else {
                        throw .lengthExceedsLimit(length: UInt64(wireLength), limit: DNSName.maxWireLength)
                    }
                    labels.append(Array(bytes[(position + 1)...(position + count)]))
                    position += 1 + count
                case 0xC0:
                    guard position + 1 < bytes.count else { throw .truncated }
                    let target = Int(length & 0x3F) << 8 | Int(bytes[position + 1])
                    guard target < runStart else { throw .invalidValue("DNS compression pointer does not point backwards") }
                    jumps += 1
                    guard jumps <= DNSMessage.maxPointerJumps else { throw .tooManyElements(limit: DNSMessage.maxPointerJumps) }
                    if resume == nil { resume = position + 2 }
                    position = target
                    runStart = target
                default:
                    throw .invalidValue("unsupported DNS label type \(length >> 6)")
                }
            }
        }

        mutating func record() throws(WireError) -> ResourceRecord {
            let owner = try name()
            let type = RecordType(rawValue: try uint16())
            let rawClass = try uint16()
            let ttl = try uint32()
            let length = Int(try uint16())
            guard length <= bytes.count - index else { throw .truncated }
            let end = index + length
            let data: RecordData
            switch type {
            case .a:
                guard length == 4 else { throw .invalidValue("A record of \(length) bytes") }
                data = .a(try take(4))
            case .aaaa:
                guard length == 16 else { throw .invalidValue("AAAA record of \(length) bytes") }
                data = .aaaa(try take(16))
            case .ptr:
                data = .ptr(try name())
            case .srv:
                let priority = try uint16(), weight = try uint16(), port = try uint16()
                data = .srv(priority: priority, weight: weight, port: port, target: try name())
            case .txt:
                var strings: [[UInt8]] = []
                while index < end {
                    guard strings.count < DNSMessage.maxTXTStrings else { throw .tooManyElements(limit: DNSMessage.maxTXTStrings) }
                    let count = Int(try byte())
                    guard count <= end - index else { throw .truncated }
                    strings.append(try take(count))
                }
                data = .txt(strings)
            default:
                data = .other(type, try take(length))
            }
            // A name inside the data may not run past the data's length.
            guard index == end else { throw .invalidValue("\(type) record data length \(length) does not match its content") }
            return ResourceRecord(name: owner, ttl: ttl, data: data, recordClass: rawClass & 0x7FFF, cacheFlush: rawClass & 0x8000 != 0)
        }
    }

    // MARK: encoding

    /// The wire form, names compressed against earlier names (RFC 1035 §4.1.4). Throws
    /// when a label, name, TXT string, the entry count or the message exceeds its limit.
    public func encoded() throws(WireError) -> [UInt8] {
        var writer = Writer()
        writer.uint16(id)
        writer.uint16(flags)
        let sections = [questions.count, answers.count, authorities.count, additionals.count]
        guard sections.reduce(0, +) <= Self.maxEntries else { throw .tooManyElements(limit: Self.maxEntries) }
        for count in sections { writer.uint16(UInt16(count)) }
        for q in questions {
            try writer.name(q.name)
            writer.uint16(q.type.rawValue)
            writer.uint16(q.recordClass & 0x7FFF | (q.unicastResponse ? 0x8000 : 0))
        }
        for r in answers + authorities + additionals { try writer.record(r) }
        guard writer.bytes.count <= Self.maxMessageLength else {
            throw .lengthExceedsLimit(length: UInt64(writer.bytes.count), limit: Self.maxMessageLength)
        }
        return writer.bytes
    }

    private struct Writer {
        var bytes: [UInt8] = []
        /// Offsets of name suffixes already written (case-folded), for compression.
        var offsets: [DNSName: Int] = [:]

        mutating func uint16(_ v: UInt16) { bytes.appendUInt16BE(v) }

        mutating func name(_ name: DNSName) throws(WireError) {
            guard name.wireLength <= DNSName.maxWireLength else {
                throw .lengthExceedsLimit(length: UInt64(name.wireLength), limit: DNSName.maxWireLength)
            }
            var labels = name.labels[...]
            while !labels.isEmpty {
                let suffix = DNSName(labels: Array(labels))
                if let offset = offsets[suffix] {
                    uint16(0xC000 | UInt16(offset))
                    return
                }
                let label = labels.removeFirst()
                guard !label.isEmpty, label.count <= DNSName.maxLabelLength else {
                    throw .lengthExceedsLimit(length: UInt64(label.count), limit: DNSName.maxLabelLength)
                }
                if bytes.count < 0x3FFF { offsets[suffix] = bytes.count }
                bytes.append(UInt8(label.count))
                bytes.append(contentsOf: label)
            }
            bytes.append(0)
        }

        mutating func record(_ r: ResourceRecord) throws(WireError) {
            try name(r.name)
            uint16(r.data.type.rawValue)
            uint16(r.recordClass & 0x7FFF | (r.cacheFlush ? 0x8000 : 0))
            bytes.appendUInt32BE(r.ttl)
            let lengthAt = bytes.count
            uint16(0)
            switch r.data {
            case .a(let b):
                guard b.count == 4 else { throw .invalidValue("A record of \(b.count) bytes") }
                bytes.append(contentsOf: b)
            case .aaaa(let b):
                guard b.count == 16 else { throw .invalidValue("AAAA record of \(b.count) bytes") }
                bytes.append(contentsOf: b)
            case .ptr(let target):
                try name(target)
            case .srv(let priority, let weight, let port, let target):
                uint16(priority); uint16(weight); uint16(port)
                try name(target)
            case .txt(let strings):
                guard strings.count <= DNSMessage.maxTXTStrings else { throw .tooManyElements(limit: DNSMessage.maxTXTStrings) }
                // RFC 6763 §6.1: a TXT record holds at least one string (possibly empty).
                for s in strings.isEmpty ? [[]] : strings {
                    guard s.count <= 255 else { throw .lengthExceedsLimit(length: UInt64(s.count), limit: 255) }
                    bytes.append(UInt8(s.count))
                    bytes.append(contentsOf: s)
                }
            case .other(_, let raw):
                bytes.append(contentsOf: raw)
            }
            let length = bytes.count - lengthAt - 2
            guard length <= Int(UInt16.max) else { throw .lengthExceedsLimit(length: UInt64(length), limit: Int(UInt16.max)) }
            bytes[lengthAt] = UInt8(length >> 8)
            bytes[lengthAt + 1] = UInt8(length & 0xFF)
        }
    }
}

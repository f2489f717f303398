/// A multiaddr (multiformats/multiaddr): a sequence of self-describing
/// protocol components with a binary form (`<varint code><value>`…) and a
/// text form (`/ip4/127.0.0.1/tcp/4001/p2p/12D3KooW…`).
public struct Multiaddr: Hashable, Sendable, CustomStringConvertible, Codable {
    public enum Component: Hashable, Sendable {
        case ip4([UInt8])        // 4 bytes
        case ip6([UInt8])        // 16 bytes
        case dns(String)
        case dns4(String)
        case dns6(String)
        case tcp(UInt16)
        case p2p(PeerID)

        /// Protocol codes from the multiformats multicodec table.
        public var code: UInt64 {
            switch self {
            case .ip4: 0x04
            case .tcp: 0x06
            case .ip6: 0x29
            case .dns: 0x35
            case .dns4: 0x36
            case .dns6: 0x37
            case .p2p: 0x01A5
            }
        }
    }

    /// Bounds applied to untrusted input.
    public static let maxBinaryLength = 1024
    public static let maxComponents = 16
    public static let maxHostLength = 253

    public let components: [Component]

    public init(_ components: [Component]) { self.components = components }

    /// `/ip4/a.b.c.d/tcp/port` or `/ip6/…/tcp/port` for a socket address.
    public static func tcp(host: String, port: UInt16) throws(WireError) -> Multiaddr {
        if let v4 = IPAddressText.parseIPv4(host) { return Multiaddr([.ip4(v4), .tcp(port)]) }
        if let v6 = IPAddressText.parseIPv6(host) { return Multiaddr([.ip6(v6), .tcp(port)]) }
        return Multiaddr([.dns(host), .tcp(port)])
    }

    public func appending(_ component: Component) -> Multiaddr { Multiaddr(components + [component]) }

    /// The `/p2p/<id>` component, if present.
    public var peerID: PeerID? {
        for case .p2p(let id) in components { return id }
        return nil
    }

    /// The address without its `/p2p` component.
    public var withoutPeerID: Multiaddr {
        Multiaddr(components.filter { if case .p2p = $0 { false } else { true } })
    }

    /// Host and TCP port, if this is a dialable TCP address.
    public var tcpEndpoint: (host: String, port: UInt16)? {
        var host: String?
        var port: UInt16?
        for c in components {
            switch c {
            case .ip4(let b): host = IPAddressText.formatIPv4(b)
            case .ip6(let b): host = IPAddressText.formatIPv6(b)
            case .dns(let h), .dns4(let h), .dns6(let h): host = h
            case .tcp(let p): port = p
            case .p2p: break
            }
        }
        guard let host, let port else { return nil }
        return (host, port)
    }

    // MARK: binary

    public var bytes: [UInt8] {
        var out: [UInt8] = []
        for c in components {
            out.appendUVarint(c.code)
            switch c {
            case .ip4(let b), .ip6(let b): out.append(contentsOf: b)
            case .tcp(let p): out.appendUInt16BE(p)
            case .dns(let h), .dns4(let h), .dns6(let h):
                out.appendUVarint(UInt64(h.utf8.count)); out.append(contentsOf: h.utf8)
            case .p2p(let id):
                let b = id.bytes
                out.appendUVarint(UInt64(b.count)); out.append(contentsOf: b)
            }
        }
        return out
    }

    public init(bytes: [UInt8]) throws(WireError) {
        guard bytes.count <= Self.maxBinaryLength else {
            throw .lengthExceedsLimit(length: UInt64(bytes.count), limit: Self.maxBinaryLength)
        }
        var cursor = ByteCursor(bytes)
        var components: [Component] = []
        while !cursor.isAtEnd {
            guard components.count < Self.maxComponents else { throw .tooManyElements(limit: Self.maxComponents) }
            let code = try cursor.readUVarint()
            switch code {
            case 0x04: components.append(.ip4(try cursor.readBytes(4)))
            case 0x29: components.append(.ip6(try cursor.readBytes(16)))
            case 0x06: components.append(.tcp(try cursor.readUInt16BE()))
            case 0x35, 0x36, 0x37:
                let length = try cursor.readUVarint()
                guard length > 0, length <= UInt64(Self.maxHostLength) else {
                    throw .lengthExceedsLimit(length: length, limit: Self.maxHostLength)
                }
                let host = try Self.validatedHost(try cursor.readBytes(Int(length)))
                components.append(code == 0x35 ? .dns(host) : code == 0x36 ? .dns4(host) : .dns6(host))
            case 0x01A5:
                let length = try cursor.readUVarint()
                guard length <= 128 else { throw .lengthExceedsLimit(length: length, limit: 128) }
                components.append(.p2p(try PeerID(bytes: try cursor.readBytes(Int(length)))))
            default:
                throw .invalidValue("unsupported multiaddr protocol code \(code)")
            }
        }
        self.components = components
    }

    private static func validatedHost(_ bytes: [UInt8]) throws(WireError) -> String {
        guard !bytes.isEmpty, !bytes.contains(UInt8(ascii: "/")),
              let s = String(validating: bytes, as: UTF8.self) else { throw .invalidValue("invalid DNS name") }
        return s
    }

    // MARK: text

    public var description: String {
        components.map { c -> String in
            switch c {
            case .ip4(let b): "/ip4/" + IPAddressText.formatIPv4(b)
            case .ip6(let b): "/ip6/" + IPAddressText.formatIPv6(b)
            case .dns(let h): "/dns/" + h
            case .dns4(let h): "/dns4/" + h
            case .dns6(let h): "/dns6/" + h
            case .tcp(let p): "/tcp/\(p)"
            case .p2p(let id): "/p2p/\(id)"
            }
        }.joined()
    }

    public init(_ text: String) throws(WireError) {
        guard text.utf8.count <= 2048 else { throw .lengthExceedsLimit(length: UInt64(text.utf8.count), limit: 2048) }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.first == "", parts.count >= 3 else { throw .invalidValue("multiaddr must start with /") }
        var i = 1
        var components: [Component] = []
        while i < parts.count {
            guard components.count < Self.maxComponents else { throw .tooManyElements(limit: Self.maxComponents) }
            let name = parts[i]
            guard i + 1 < parts.count else { throw .invalidValue("missing value for /\(name)") }
            let value = parts[i + 1]
            switch name {
            case "ip4":
                guard let b = IPAddressText.parseIPv4(value) else { throw .invalidValue("invalid IPv4 \(value)") }
                components.append(.ip4(b))
            case "ip6":
                guard let b = IPAddressText.parseIPv6(value) else { throw .invalidValue("invalid IPv6 \(value)") }
                components.append(.ip6(b))
            case "tcp":
                guard let p = UInt16(value) else { throw .invalidValue("invalid port \(value)") }
                components.append(.tcp(p))
            case "dns", "dns4", "dns6":
                guard !value.isEmpty, value.utf8.count <= Self.maxHostLength else { throw .invalidValue("invalid DNS name") }
                components.append(name == "dns" ? .dns(value) : name == "dns4" ? .dns4(value) : .dns6(value))
            case "p2p", "ipfs":
                components.append(.p2p(try PeerID(string: value)))
            default:
                throw .invalidValue("unsupported multiaddr protocol /\(name)")
            }
            i += 2
        }
        self.components = components
    }

    public init(from decoder: any Decoder) throws {
        try self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// Text forms of IP addresses without Foundation (RFC 791 dotted quad, RFC 5952 IPv6).
enum IPAddressText {
    static func parseIPv4(_ s: String) -> [UInt8]? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }),
                  !(p.count > 1 && p.first == "0"), let v = UInt8(p) else { return nil }
            out.append(v)
        }
        return out
    }

    static func formatIPv4(_ b: [UInt8]) -> String { b.map(String.init).joined(separator: ".") }

    static func parseIPv6(_ s: String) -> [UInt8]? {
        guard s.contains(":"), s.utf8.count <= 45 else { return nil }
        var text = Substring(s)
        var tailV4: [UInt8] = []
        if let lastColon = text.lastIndex(of: ":"), text[text.index(after: lastColon)...].contains(".") {
            guard let v4 = parseIPv4(String(text[text.index(after: lastColon)...])) else { return nil }
            tailV4 = v4
            text = text[...lastColon]
            if text.hasSuffix(":") && !text.hasSuffix("::") { text = text.dropLast() }
        }
        func groups(_ part: Substring) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            for g in part.split(separator: ":", omittingEmptySubsequences: false) {
                guard !g.isEmpty, g.count <= 4, let v = UInt16(g, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        let needed = tailV4.isEmpty ? 8 : 6
        var words: [UInt16]
        if let range = doubleColon(text) {
            guard let head = groups(text[..<range.lowerBound]), let tail = groups(text[range.upperBound...]),
                  head.count + tail.count < needed else { return nil }
            words = head + [UInt16](repeating: 0, count: needed - head.count - tail.count) + tail
        } else {
            guard let all = groups(text), all.count == needed else { return nil }
            words = all
        }
        var out: [UInt8] = []
        for w in words { out.append(UInt8(w >> 8)); out.append(UInt8(w & 0xff)) }
        return out + tailV4
    }

    private static func doubleColon(_ s: Substring) -> Range<Substring.Index>? {
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(after: i)
            if j < s.endIndex && s[i] == ":" && s[j] == ":" { return i..<s.index(after: j) }
            i = j
        }
        return nil
    }

    /// RFC 5952 canonical form: lowercase, longest run (≥2) of zero groups compressed.
    static func formatIPv6(_ b: [UInt8]) -> String {
        let words = stride(from: 0, to: 16, by: 2).map { UInt16(b[$0]) << 8 | UInt16(b[$0 + 1]) }
        var bestStart = -1, bestLen = 0, i = 0
        while i < 8 {
            if words[i] == 0 {
                var j = i
                while j < 8 && words[j] == 0 { j += 1 }
                if j - i > bestLen && j - i >= 2 { bestStart = i; bestLen = j - i }
                i = j
            } else { i += 1 }
        }
        let hex = words.map { String($0, radix: 16) }
        if bestStart < 0 { return hex.joined(separator: ":") }
        return hex[..<bestStart].joined(separator: ":") + "::" + hex[(bestStart + bestLen)...].joined(separator: ":")
    }
}

import Crypto

/// A point of the 256-bit Kademlia keyspace: SHA-256 of a peer id's bytes or of
/// a record key (libp2p/specs kad-dht §"Distance"). Distance is XOR, compared
/// as an unsigned big-endian integer (Maymounkov & Mazières 2002, §2.1).
public struct KadKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Big-endian 64-bit words, most significant first.
    public let w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    public init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        (self.w0, self.w1, self.w2, self.w3) = (w0, w1, w2, w3)
    }

    /// Interprets 32 bytes as a key (no hashing).
    public init(digest: some Sequence<UInt8>) {
        var words: [UInt64] = [0, 0, 0, 0]
        for (i, b) in digest.prefix(32).enumerated() { words[i / 8] = words[i / 8] << 8 | UInt64(b) }
        self.init(w0: words[0], w1: words[1], w2: words[2], w3: words[3])
    }

    /// The keyspace position of arbitrary key bytes: SHA-256(bytes).
    public init(hashing bytes: [UInt8]) {
        self.init(digest: SHA256.hash(data: bytes))
    }

    public init(peer: PeerID) { self = peer.dhtKey }

    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for w in [w0, w1, w2, w3] { for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: w >> UInt64(s))) } }
        return out
    }

    public func distance(to other: KadKey) -> KadKey {
        KadKey(w0: w0 ^ other.w0, w1: w1 ^ other.w1, w2: w2 ^ other.w2, w3: w3 ^ other.w3)
    }

    /// Number of leading zero bits (256 for the zero key).
    public var leadingZeroBits: Int {
        if w0 != 0 { return w0.leadingZeroBitCount }
        if w1 != 0 { return 64 + w1.leadingZeroBitCount }
        if w2 != 0 { return 128 + w2.leadingZeroBitCount }
        return 192 + w3.leadingZeroBitCount
    }

    public static func < (a: KadKey, b: KadKey) -> Bool {
        if a.w0 != b.w0 { return a.w0 < b.w0 }
        if a.w1 != b.w1 { return a.w1 < b.w1 }
        if a.w2 != b.w2 { return a.w2 < b.w2 }
        return a.w3 < b.w3
    }

    /// A random key whose distance from `self` has exactly `commonPrefix` leading zero bits
    /// (used to refresh the bucket of that index).
    public func random(withCommonPrefix commonPrefix: Int, using rng: inout some RandomNumberGenerator) -> KadKey {
        precondition(commonPrefix >= 0 && commonPrefix < 256)
        var d = [rng.next() as UInt64, rng.next(), rng.next(), rng.next()]
        let word = commonPrefix / 64, bit = commonPrefix % 64
        for i in 0..<word { d[i] = 0 }
        let flip: UInt64 = 1 << UInt64(63 - bit)
        d[word] = (d[word] & (flip &- 1)) | flip  // zero the higher bits, set the first differing bit
        return distance(to: KadKey(w0: d[0], w1: d[1], w2: d[2], w3: d[3]))
    }

    public var description: String { hex(bytes.prefix(8)) + "…" }
}

func hex(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
    return String(decoding: out, as: UTF8.self)
}

/// Lower-case hex to bytes (nil for anything else, or beyond `maxBytes` decoded bytes): bundle
/// file names, the signed record in a revocation notice, py-libp2p's hex `/pk/` keys.
func unhex(_ text: some Collection<UInt8>, maxBytes: Int = 64 * 1024) -> [UInt8]? {
    let chars = Array(text)
    guard !chars.isEmpty, chars.count % 2 == 0, chars.count / 2 <= maxBytes else { return nil }
    func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        default: nil
        }
    }
    var out: [UInt8] = []
    out.reserveCapacity(chars.count / 2)
    for i in stride(from: 0, to: chars.count, by: 2) {
        guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
        out.append(hi << 4 | lo)
    }
    return out
}

import Foundation
import NIOCore
import NIOPosix
import Synchronization
@testable import VivimNetwork

// Hostile peers for the soak test (issue 11): each attack of the security review
// (`shared/reviews/security-review.md` findings 1, 4, 5, 6, 11, 12, 17, 20) as a loop that
// is bounded in count and in time, built from the package's own wire types.

/// An operation that did not finish in time.
struct SoakTimeout: Error, CustomStringConvertible { let description: String }

/// Runs `body`, giving up after `limit`: on time-out `onTimeout` runs (to unblock the body, e.g. by
/// closing its connection), the body is cancelled and left to finish on its own, and
/// ``SoakTimeout`` is thrown. A hung victim or peer therefore ends as an error, never as a hang.
func bounded<T: Sendable>(_ limit: Duration, _ what: String, onTimeout: @escaping @Sendable () async -> Void = {},
                          _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let race = BoundedRace<T>()
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        race.pending.withLock { $0 = continuation }
        let work = Task {
            let result: Result<T, any Error>
            do { result = .success(try await body()) } catch { result = .failure(error) }
            race.timer.withLock { $0?.cancel() }
            race.take()?.resume(with: result)
        }
        let timer = Task {
            try? await Task.sleep(for: limit)
            guard !Task.isCancelled, let c = race.take() else { return }
            work.cancel()
            await onTimeout()
            c.resume(throwing: SoakTimeout(description: "\(what) did not finish within \(limit)"))
        }
        race.timer.withLock { $0 = timer }
    }
}

/// The shared state of one ``bounded(_:_:onTimeout:_:)`` call: whoever takes the continuation first resumes it.
private final class BoundedRace<T: Sendable>: Sendable {
    let pending = Mutex<CheckedContinuation<T, any Error>?>(nil)
    let timer = Mutex<Task<Void, Never>?>(nil)
    func take() -> CheckedContinuation<T, any Error>? { pending.withLock { c in defer { c = nil }; return c } }
}

/// A flag every loop checks: set when the soak ends or the victim dies.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}

/// The honest content published so far (what the attackers target and the readers fetch).
final class SoakLedger: Sendable {
    struct Entry: Sendable {
        let contentId: String
        let hash: ContentHash
        let owner: PeerID
        let publisher: Int
    }
    private let entries = Mutex<[Entry]>([])
    func add(_ e: Entry) { entries.withLock { $0.append(e) } }
    var all: [Entry] { entries.withLock { $0 } }
    /// Up to `count` recent entries (the attackers aim at fresh content).
    func recent(_ count: Int) -> [Entry] { entries.withLock { Array($0.suffix(count)) } }
}

/// Per-attack counters, printed at the end of the soak.
final class AttackStats: Sendable {
    struct Counter: Sendable { var operations = 0, refused = 0, errors = 0, bytes = 0; var lastError = "", lastRefusal = "" }
    private let counters = Mutex<[String: Counter]>([:])
    func ok(_ attack: HostileAttack, bytes: Int = 0) {
        counters.withLock { $0[attack.rawValue, default: .init()].operations += 1; $0[attack.rawValue, default: .init()].bytes += bytes }
    }
    /// The victim refused the attack (stream or connection reset, negotiation refused): expected.
    func refused(_ attack: HostileAttack, _ error: any Error) {
        counters.withLock {
            $0[attack.rawValue, default: .init()].refused += 1
            $0[attack.rawValue, default: .init()].lastRefusal = String(String(describing: error).prefix(120))
        }
    }
    func failed(_ attack: HostileAttack, _ error: any Error) {
        counters.withLock {
            $0[attack.rawValue, default: .init()].errors += 1
            $0[attack.rawValue, default: .init()].lastError = String(String(describing: error).prefix(120))
        }
    }
    var summary: [String: Counter] { counters.withLock { $0 } }
}

/// The attacks, one per hostile peer (round-robin over the 50 peers).
enum HostileAttack: String, CaseIterable, Sendable {
    /// Finding 4: yamux DATA for a stream never opened with length 0xFFFF_FFF0 and then bytes; DATA
    /// beyond the receive window on a new stream (raw Noise + yamux dialer).
    case yamuxUnknownStream = "yamux-unknown-stream"
    /// Frames whose varint prefix announces 2^40 bytes or maxLength + 1, on every VIVIM protocol.
    case oversizedFrames = "oversized-frames"
    /// Streams proposing protocols the node does not speak, and many idle streams on one it does.
    case unknownProtocols = "unknown-protocols"
    /// Finding 5: ADD_PROVIDER for many distinct (long) keys.
    case providerFlood = "provider-flood"
    /// Finding 5: PUT_VALUE for many distinct keys outside `/vivim/record/`, 16 KiB values.
    case putValueFlood = "put-value-flood"
    /// Finding 11: subscriptions to thousands of distinct topics, PRUNE floods with extreme
    /// backoffs, invalid (unsigned) messages.
    case gossipFlood = "gossip-flood"
    /// Revocations and records for honest content signed by the attacker (DHT and gossip).
    case forgedRevocations = "forged-revocations"
    /// Findings 1 and 6(b): REPLICATE with extreme `expires_in`, lying sizes, and for honest hashes.
    case replicateAbuse = "replicate-abuse"
    /// Finding 6(a, c): DELETE for honest hashes and for hashes never stored (tombstone flood).
    case deleteAbuse = "delete-abuse"
    /// Finding 17: many idle connections, and TCP sockets that never finish the handshake.
    case idleConnections = "idle-connections"
    /// Finding 12: answers the victim's lookups with honest peer ids at dead addresses and fake peers.
    case eclipse = "eclipse"

    /// `VIVIM_SOAK_ATTACKS` (comma-separated raw values; default all, `none` for a baseline run).
    static var selected: [HostileAttack] {
        guard let text = ProcessInfo.processInfo.environment["VIVIM_SOAK_ATTACKS"], !text.isEmpty else { return allCases }
        if text == "none" { return [] }
        return text.split(separator: ",").compactMap { HostileAttack(rawValue: String($0).trimmingCharacters(in: .whitespaces)) }
    }
}

/// What every hostile peer knows: where the victim is, the honest content and peers, when to stop.
struct SoakArena: Sendable {
    let victim: Multiaddr
    let victimPeer: PeerID
    let ledger: SoakLedger
    let honestPeers: [PeerID]
    let stats: AttackStats
    let stop: StopFlag
    let deadline: ContinuousClock.Instant
    /// Things to close when the soak ends (raw channels, hosts), so no pending operation outlives it.
    let closers: Closers

    var running: Bool { !stop.isSet && ContinuousClock.now < deadline }
}

/// Raw channels and hosts opened by the attackers, closed at the end of the soak.
final class Closers: Sendable {
    private let channels = Mutex<[any Channel]>([])
    private let hosts = Mutex<[P2PHost]>([])
    func add(_ channel: any Channel) { channels.withLock { $0.append(channel) } }
    func add(_ host: P2PHost) { hosts.withLock { $0.append(host) } }
    func closeAll() async {
        for c in channels.withLock({ c in defer { c = [] }; return c }) { try? await c.close() }
        for h in hosts.withLock({ h in defer { h = [] }; return h }) { await h.shutdown() }
    }
}

/// Collects the bytes a raw channel receives into an async stream.
private final class ByteCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let continuation: AsyncStream<[UInt8]>.Continuation
    init(_ continuation: AsyncStream<[UInt8]>.Continuation) { self.continuation = continuation }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        continuation.yield(buffer.readBytes(length: buffer.readableBytes) ?? [])
    }
    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
        context.fireChannelInactive()
    }
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        continuation.finish()
        context.close(promise: nil)
    }
}

/// A plain TCP connection to `address` whose received bytes arrive on `incoming`.
func rawConnect(_ address: Multiaddr, closers: Closers) async throws -> (channel: any Channel, incoming: AsyncStream<[UInt8]>) {
    guard let (host, port) = address.tcpEndpoint else { throw TestError(description: "not a TCP address: \(address)") }
    let (incoming, continuation) = AsyncStream<[UInt8]>.makeStream()
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connectTimeout(.seconds(5))
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(ByteCollector(continuation)) }
        }
        .connect(host: host, port: Int(port)).get()
    closers.add(channel)
    return (channel, incoming)
}

/// A libp2p connection driven by hand up to the yamux layer, from the package's Sans-IO parts:
/// multistream-select (`/noise`), the Noise XX handshake, multistream-select again, encrypted
/// (`/yamux/1.0.0`). It can then send yamux frames no honest muxer sends (security review
/// finding 4). Used by one task at a time.
struct RawYamuxConnection {
    let channel: any Channel
    private var transport: NoiseTransport
    private var incoming: AsyncStream<[UInt8]>.Iterator

    static func open(_ address: Multiaddr, identity: PeerKeyPair, closers: Closers) async throws -> RawYamuxConnection {
        let (channel, stream) = try await rawConnect(address, closers: closers)
        var incoming = stream.makeAsyncIterator()
        func send(_ bytes: [UInt8]) async throws { try await channel.writeAndFlush(channel.allocator.buffer(bytes: bytes)).get() }
        func next() async throws -> [UInt8] {
            guard let chunk = await incoming.next() else { throw TestError(description: "victim closed the raw connection during the upgrade") }
            return chunk
        }

        // 1. multistream-select: /noise.
        var security = MultistreamSelect(role: .initiator(proposals: [NoiseHandshake.protocolID]))
        try await send(security.start())
        var pending: [UInt8] = []
        while true {
            let step = try security.receive(try await next())
            if !step.output.isEmpty { try await send(step.output) }
            if step.negotiated != nil { pending = step.remainder; break }
        }

        // 2. Noise XX as initiator, expecting the victim's peer id.
        var handshake = NoiseHandshake(role: .initiator, identity: identity, expectedRemote: address.peerID,
                                       streamMuxers: [YamuxSession.protocolID])
        try await send(try NoiseFrame.encode(try handshake.initiate()))
        var buffer = InputBuffer()
        buffer.append(pending)
        var completion: NoiseHandshake.Completion?
        while completion == nil {
            while completion == nil, let message = NoiseFrame.decode(&buffer) {
                let result = try handshake.receive(message)
                if let reply = result.reply { try await send(try NoiseFrame.encode(reply)) }
                completion = result.completion
            }
            if completion == nil { buffer.append(try await next()) }
        }
        var transport = NoiseTransport(completion: completion!)

        // 3. multistream-select inside Noise: /yamux/1.0.0.
        var muxer = MultistreamSelect(role: .initiator(proposals: [YamuxSession.protocolID]))
        try await send(try transport.encrypt(muxer.start()))
        var ciphertext = buffer.takeAll()
        while true {
            if ciphertext.isEmpty { ciphertext = try await next() }
            let step = try muxer.receive(try transport.decrypt(ciphertext))
            ciphertext = []
            if !step.output.isEmpty { try await send(try transport.encrypt(step.output)) }
            if step.negotiated != nil { break }
        }
        return RawYamuxConnection(channel: channel, transport: transport, incoming: incoming)
    }

    /// Encrypts and writes yamux bytes (headers and payloads as the caller builds them); waits until
    /// the socket took them (TCP back-pressure).
    mutating func send(_ plaintext: [UInt8]) async throws {
        let cipher = try transport.encrypt(plaintext)
        try await channel.writeAndFlush(channel.allocator.buffer(bytes: cipher)).get()
    }

    func close() async { try? await channel.close() }
}

// MARK: - the attacks

/// One hostile peer: its identity, its attack, and the loop that runs it until the arena stops.
struct HostilePeer: Sendable {
    let index: Int
    let attack: HostileAttack
    let arena: SoakArena

    /// Upper bounds per peer (every loop is bounded in count as well as in time).
    static let maxRounds = 100_000
    /// Bytes one yamux peer may push in total (`VIVIM_SOAK_YAMUX_MIB`, default 128 MiB): with five
    /// such peers, an unbounded session buffer shows as RSS well beyond the soak's cap.
    static let yamuxBudget = (Int(ProcessInfo.processInfo.environment["VIVIM_SOAK_YAMUX_MIB"] ?? "") ?? 128) << 20

    func run() async {
        let identity = PeerKeyPair()
        let host = P2PHost(identity: identity)
        arena.closers.add(host)
        var rng = TestRNG(seed: UInt64(index) &* 0x9E37_79B9 &+ 1)
        var round = 0
        var state = State()
        while arena.running && round < Self.maxRounds {
            round += 1
            do {
                try await step(host: host, identity: identity, rng: &rng, state: &state, round: round)
            } catch {
                arena.stats.failed(attack, error)
                // A refused or reset attacker backs off briefly and tries again (bounded by the deadline).
                try? await Task.sleep(for: .milliseconds(100))
            }
            await Task.yield()
        }
        for c in state.connections { await c.close() }
    }

    /// What a peer keeps between rounds.
    struct State {
        var connection: P2PConnection?
        var connections: [P2PConnection] = []
        var idleStreams: [P2PStream] = []
        var yamuxSent = 0
        var junk: [ContentHash: [UInt8]] = [:]
        var transfer: ContentTransferService?
        var prepared = false
        var seqno: UInt64 = 1
    }

    private func connection(_ host: P2PHost, _ state: inout State) async throws -> P2PConnection {
        if let c = state.connection, c.isActive { return c }
        let c = try await bounded(.seconds(10), "dial") { [arena] in try await host.dial(arena.victim) }
        state.connection = c
        return c
    }

    /// Opens a stream, writes `frames`, half-closes and reads the answers until end-of-stream
    /// (bounded), so the victim handles every frame.
    private func exchange(_ connection: P2PConnection, _ protocolID: String, _ frames: [UInt8]) async throws {
        try await bounded(.seconds(10), "\(protocolID) exchange", onTimeout: {}) {
            let stream = try await connection.openStream(protocolID)
            // In pieces: one write may not exceed the local yamux send buffer.
            for start in stride(from: 0, to: frames.count, by: 128 * 1024) {
                try await stream.write(Array(frames[start..<min(frames.count, start + 128 * 1024)]))
            }
            stream.closeWrite()
            for _ in 0..<10_000 { guard try await stream.read() != nil else { break } }
            stream.close()
        }
    }

    private func randomBytes(_ count: Int, _ rng: inout TestRNG) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var i = 0
        while i < count {
            var word = rng.next()
            for _ in 0..<8 where i < count { out[i] = UInt8(truncatingIfNeeded: word); word >>= 8; i += 1 }
        }
        return out
    }

    private func step(host: P2PHost, identity: PeerKeyPair, rng: inout TestRNG, state: inout State, round: Int) async throws {
        switch attack {
        case .yamuxUnknownStream:
            guard state.yamuxSent < Self.yamuxBudget else {
                try await Task.sleep(for: .milliseconds(200))
                return
            }
            // Not time-bounded itself: a stalled upgrade ends when the soak closes every raw channel.
            var raw = try await RawYamuxConnection.open(arena.victim, identity: identity, closers: arena.closers)
            let channel = raw.channel
            defer { channel.close(promise: nil) }
            // Odd variant: DATA without SYN for stream 7, never opened, announcing ~4 GiB. Even
            // variant: a SYN for stream 9 whose DATA goes far beyond the 256 KiB initial window.
            let header = round % 2 == 1
                ? YamuxHeader(type: .data, streamID: 7, length: 0xFFFF_FFF0)
                : YamuxHeader(type: .data, flags: .syn, streamID: 9, length: 0xFFFF_FFF0)
            try await raw.send(header.encoded)
            let chunk = [UInt8](repeating: 0, count: 1 << 20)
            while arena.running && state.yamuxSent < Self.yamuxBudget {
                try await raw.send(chunk)
                state.yamuxSent += chunk.count
                arena.stats.ok(attack, bytes: chunk.count)
            }

        case .oversizedFrames:
            let c = try await connection(host, &state)
            let protocols = [KadMessage.protocolID, PubSubRPC.protocolID, ReplicationProtocol.protocolID,
                             ContentTransferProtocol.protocolID, IdentifyMessage.protocolID, SyncProtocol.protocolID]
            let protocolID = protocols[round % protocols.count]
            var frame: [UInt8] = []
            // 2^40, then 2^64 - 1, then exactly one byte over each decoder's largest message.
            switch round % 3 {
            case 0: UVarint.encode(1 << 40, into: &frame)
            case 1: UVarint.encode(UInt64.max, into: &frame)
            default: UVarint.encode(UInt64(KadMessage.maxLength + 1), into: &frame)
            }
            frame += randomBytes(64 * 1024, &rng)
            do {
                try await exchange(c, protocolID, frame)
                arena.stats.ok(attack, bytes: frame.count)
            } catch {
                // The victim resetting the stream (or the connection) is the right answer.
                arena.stats.refused(attack, error)
            }

        case .unknownProtocols:
            let c = try await connection(host, &state)
            for n in 0..<10 {
                do {
                    let s = try await bounded(.seconds(10), "unknown protocol") { try await c.openStream("/evil/\(round)-\(n)/1.0.0") }
                    s.reset()
                    arena.stats.failed(attack, TestError(description: "victim accepted an unknown protocol"))
                } catch {
                    arena.stats.refused(attack, error)
                }
            }
            // Idle streams on a protocol the victim speaks: opened, never written to (bounded).
            if state.idleStreams.count < 600 {
                for _ in 0..<20 {
                    let s = try await bounded(.seconds(10), "idle stream") { try await c.openStream(KadMessage.protocolID) }
                    state.idleStreams.append(s)
                    arena.stats.ok(attack)
                }
            }

        case .providerFlood:
            let c = try await connection(host, &state)
            var frames: [UInt8] = []
            let me = KadMessage.Peer(id: identity.peerID, addrs: [try Multiaddr("/ip4/127.0.0.1/tcp/1")])
            for _ in 0..<64 {
                let key = randomBytes(round % 4 == 0 ? 64 * 1024 : 1024, &rng)
                frames += VarintFrame.encode(KadMessage(type: .addProvider, key: key, providerPeers: [me]).encoded)
            }
            try await exchange(c, KadMessage.protocolID, frames)
            arena.stats.ok(attack, bytes: frames.count)

        case .putValueFlood:
            let c = try await connection(host, &state)
            var frames: [UInt8] = []
            for _ in 0..<64 {
                let key = Array("/junk/".utf8) + randomBytes(32, &rng)
                let value = randomBytes(16 * 1024, &rng)
                frames += VarintFrame.encode(KadMessage(type: .putValue, key: key, record: .init(key: key, value: value)).encoded)
            }
            try await exchange(c, KadMessage.protocolID, frames)
            arena.stats.ok(attack, bytes: frames.count)

        case .gossipFlood:
            let c = try await connection(host, &state)
            if !state.prepared {
                // Drain whatever the victim sends back on its own gossip stream.
                host.handle(PubSubRPC.protocolID) { stream in
                    for _ in 0..<1_000_000 { guard try await stream.read() != nil else { break } }
                }
                state.prepared = true
            }
            var rpc = PubSubRPC()
            let tag = randomBytes(8, &rng).map { String($0, radix: 16) }.joined()
            switch round % 3 {
            case 0:
                rpc.subscriptions = (0..<2_000).map { .init(subscribe: true, topic: "t\(tag)-\($0)-" + String(repeating: "x", count: 180)) }
            case 1:
                var control = PubSubRPC.Control()
                let extremes: [UInt64] = [0, 1, 1 << 31, 1 << 32, 1 << 35, UInt64(Int64.max), UInt64.max]
                control.prune = (0..<2_000).map {
                    PubSubRPC.Prune(topic: "p\(tag)-\($0)-" + String(repeating: "y", count: 180), peers: [],
                                    backoff: extremes[$0 % extremes.count])
                }
                control.graft = (0..<500).map { "g\(tag)-\($0)" }
                control.ihave = [.init(topic: Topic.networkAnnounce, messageIDs: (0..<1_000).map { _ in randomBytes(40, &rng) })]
                rpc.control = control
            default:
                // Messages with a bad signature on a topic the node relays: refused, and not cached.
                rpc.messages = (0..<12).map { n in
                    var m = PubSubRPC.Message(from: identity.peerID.bytes, data: randomBytes(64 * 1024, &rng),
                                              seqno: randomBytes(8, &rng), topic: Topic.networkAnnounce)
                    m.signature = randomBytes(64, &rng)
                    _ = n
                    return m
                }
            }
            let bytes = VarintFrame.encode(rpc.encoded)
            try await bounded(.seconds(10), "gossip write") {
                let s = try await c.openStream(PubSubRPC.protocolID)
                try await s.write(bytes)
                s.close()
            }
            arena.stats.ok(attack, bytes: bytes.count)

        case .forgedRevocations:
            let c = try await connection(host, &state)
            let targets = arena.ledger.recent(8)
            guard !targets.isEmpty else { try await Task.sleep(for: .milliseconds(200)); return }
            let now = UInt64(Date().timeIntervalSince1970)
            var frames: [UInt8] = [], messages: [PubSubRPC.Message] = []
            for t in targets {
                // (a) a revocation of the honest record, signed by the attacker (who claims ownership);
                // (b) a live record naming the attacker as owner of another bundle (hijack);
                // (c) a revocation naming the real owner, with the attacker's signature (does not verify).
                var revoked = ContentRecord(contentID: t.contentId, contentType: "application/vivim-bundle+json", bundleHash: t.hash,
                                            metadata: .init(size: 1, createdAt: now, replicationFactor: 1), owner: identity.peerID)
                    .revoked(at: now)
                try revoked.sign(as: identity, addrs: [], at: now)
                var hijack = ContentRecord(contentID: t.contentId, contentType: "application/vivim-bundle+json",
                                           bundleHash: ContentHash(of: Array("hijack \(t.contentId)".utf8)),
                                           metadata: .init(size: 1, createdAt: now + 60, replicationFactor: 1), owner: identity.peerID)
                try hijack.sign(as: identity, addrs: host.listenAddresses, at: now + 60)
                var impostor = ContentRecord(contentID: t.contentId, contentType: "application/vivim-bundle+json", bundleHash: t.hash,
                                             metadata: .init(size: 1, createdAt: now, replicationFactor: 1), owner: t.owner)
                    .revoked(at: now)
                try impostor.sign(as: identity, addrs: [], at: now)
                for r in [revoked, hijack, impostor] {
                    frames += VarintFrame.encode(KadMessage(type: .putValue, key: r.key, record: .init(key: r.key, value: r.encoded)).encoded)
                }
                for r in [revoked, impostor] {
                    messages.append(try .signed(by: identity, data: VivimNode.revocationNotice(r), seqno: state.seqno,
                                                topic: Topic.content(t.contentId)))
                    state.seqno += 1
                }
            }
            try await exchange(c, KadMessage.protocolID, frames)
            let rpc = VarintFrame.encode(PubSubRPC(messages: messages).encoded)
            try await bounded(.seconds(10), "gossip revocations") {
                let s = try await c.openStream(PubSubRPC.protocolID)
                try await s.write(rpc)
                s.close()
            }
            arena.stats.ok(attack, bytes: frames.count + rpc.count)
            try await Task.sleep(for: .milliseconds(300))

        case .replicateAbuse:
            let c = try await connection(host, &state)
            if state.transfer == nil {
                let junk = Mutex<[ContentHash: [UInt8]]>([:])
                let service = ContentTransferService(host: host) { hash in junk.withLock { $0[hash] } }
                await service.start()
                state.transfer = service
                for n in 0..<256 {
                    let blob = Array("junk \(index) \(n) ".utf8) + randomBytes(1024, &rng)
                    state.junk[ContentHash(of: blob)] = blob
                }
                let all = state.junk
                junk.withLock { $0 = all }
            }
            let extremes: [UInt64] = [0, 1, 1 << 31, 1 << 32, 1 << 35, 1 << 40, UInt64(Int64.max), UInt64.max]
            let junkHashes = Array(state.junk.keys)
            var request: ReplicationProtocol.Request
            switch round % 3 {
            case 0:  // an extreme expiry (finding 1: 2^35 s and more trapped the node)
                request = .init(kind: .replicate, hash: junkHashes[round % junkHashes.count], size: 1100,
                                expiresIn: extremes[(round / 3) % extremes.count])
            case 1:  // someone else's content (finding 6 b: ownership takeover)
                guard let target = arena.ledger.recent(16).randomElement(using: &rng) else { return }
                request = .init(kind: .replicate, hash: target.hash, size: 1, expiresIn: UInt64.max)
            default:  // a declared size that lies (63 MiB announced, 1 KiB served)
                request = .init(kind: .replicate, hash: junkHashes[round % junkHashes.count], size: 63 << 20, expiresIn: 1 << 35)
            }
            let frame = ReplicationProtocol.encode(request)
            try await exchange(c, ReplicationProtocol.protocolID, frame)
            arena.stats.ok(attack, bytes: frame.count)

        case .deleteAbuse:
            let c = try await connection(host, &state)
            var hashes = arena.ledger.recent(16).map(\.hash)
            for _ in 0..<16 { hashes.append(ContentHash(of: randomBytes(16, &rng))) }
            for hash in hashes {
                let frame = ReplicationProtocol.encode(.init(kind: .delete, hash: hash, size: 0, expiresIn: nil))
                try await exchange(c, ReplicationProtocol.protocolID, frame)
                arena.stats.ok(attack, bytes: frame.count)
            }

        case .idleConnections:
            // Noise-completed connections that then say nothing, and bare TCP sockets that never
            // start the handshake (bounded per peer: 40 of each).
            if state.connections.count < 40 {
                let c = try await bounded(.seconds(10), "idle dial") { [arena] in try await host.dial(arena.victim) }
                state.connections.append(c)
                arena.stats.ok(attack)
                let (channel, _) = try await rawConnect(arena.victim, closers: arena.closers)
                _ = channel
                arena.stats.ok(attack)
            } else {
                try await Task.sleep(for: .milliseconds(500))
            }

        case .eclipse:
            if !state.prepared {
                // Answers every Kademlia request with the honest peers at a dead address, plus fake peers.
                let honest = arena.honestPeers
                let dead = try Multiaddr("/ip4/127.0.0.1/tcp/1")
                host.handle(KadMessage.protocolID) { stream in
                    var reader = StreamReader(stream)
                    for _ in 0..<64 {
                        guard let body = try await reader.readFrame(maxLength: KadMessage.maxLength) else { break }
                        let request = try KadMessage(decoding: body)
                        let liars = honest.map { KadMessage.Peer(id: $0, addrs: [dead]) }
                            + (0..<20).map { _ in KadMessage.Peer(id: PeerKeyPair().peerID, addrs: [dead]) }
                        try await stream.write(VarintFrame.encode(KadMessage(type: request.type, key: request.key, closerPeers: liars).encoded))
                    }
                    stream.close()
                }
                state.prepared = true
            }
            let c = try await connection(host, &state)
            // Ask so the victim learns this peer and queries it in its own lookups.
            var frames: [UInt8] = []
            for _ in 0..<8 { frames += VarintFrame.encode(KadMessage(type: .findNode, key: randomBytes(32, &rng)).encoded) }
            try await exchange(c, KadMessage.protocolID, frames)
            arena.stats.ok(attack, bytes: frames.count)
            try await Task.sleep(for: .milliseconds(500))
        }
    }
}

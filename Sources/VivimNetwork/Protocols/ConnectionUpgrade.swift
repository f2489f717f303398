import Crypto

/// A libp2p connection over a raw byte transport, as one Sans-IO state machine
/// (libp2p/specs connections/README.md §"Upgrading connections"):
///
/// 1. multistream-select negotiates the security protocol (`/noise`),
/// 2. the Noise XX handshake authenticates the remote peer id,
/// 3. multistream-select, now encrypted, negotiates the muxer (`/yamux/1.0.0`),
/// 4. yamux carries streams.
///
/// The dialer is the initiator at every step. Feed raw socket bytes with
/// ``receive(_:)``; drain bytes to write with ``takeOutput()``.
public struct SecureConnection: Sendable {
    public enum Role: Sendable { case dialer, listener }

    public enum Event: Equatable, Sendable {
        /// Noise finished: the remote peer is authenticated.
        case authenticated(PeerID)
        /// yamux negotiated: streams may be opened.
        case ready
        case stream(YamuxSession.Event)
    }

    public enum Error: Swift.Error, Sendable {
        case negotiation(MultistreamSelect.Error)
        case noise(NoiseError)
        case yamux(YamuxError)
        case notReady
    }

    private enum Phase: Sendable {
        case securityNegotiation(MultistreamSelect)
        case handshake(NoiseHandshake)
        case muxerNegotiation(MultistreamSelect, NoiseTransport)
        case established(YamuxSession, NoiseTransport)
        case failed
    }

    public let role: Role
    private var phase: Phase
    private var rawInput = InputBuffer()
    private var output: [UInt8] = []
    public private(set) var remotePeer: PeerID?
    public private(set) var remoteKey: PeerPublicKey?

    public init(
        role: Role,
        identity: PeerKeyPair,
        expectedRemote: PeerID? = nil,
        staticKey: Curve25519.KeyAgreement.PrivateKey = .init(),
        ephemeralKey: Curve25519.KeyAgreement.PrivateKey = .init(),
        yamux: YamuxSession.Configuration = .init()
    ) {
        self.role = role
        self.yamuxConfiguration = yamux
        let negotiation = MultistreamSelect(role: role == .dialer
            ? .initiator(proposals: [NoiseHandshake.protocolID])
            : .responder(supported: [NoiseHandshake.protocolID]))
        self.phase = .securityNegotiation(negotiation)
        self.pendingHandshake = NoiseHandshake(
            role: role == .dialer ? .initiator : .responder, identity: identity,
            staticKey: staticKey, ephemeralKey: ephemeralKey, expectedRemote: expectedRemote,
            streamMuxers: [YamuxSession.protocolID])
    }

    private var pendingHandshake: NoiseHandshake
    private let yamuxConfiguration: YamuxSession.Configuration

    public var isReady: Bool { if case .established = phase { true } else { false } }

    /// Starts the exchange; call once, before any ``receive(_:)``.
    public mutating func start() {
        guard case .securityNegotiation(var ms) = phase else { return }
        output += ms.start()
        phase = .securityNegotiation(ms)
    }

    public mutating func takeOutput() -> [UInt8] {
        defer { output = [] }
        return output
    }

    public mutating func receive(_ bytes: some Collection<UInt8>) throws(Error) -> [Event] {
        var events: [Event] = []
        do {
            try process(Array(bytes), &events)
        } catch {
            phase = .failed
            throw error
        }
        return events
    }

    private mutating func process(_ bytes: [UInt8], _ events: inout [Event]) throws(Error) {
        switch phase {
        case .securityNegotiation(var ms):
            let step: MultistreamSelect.Step
            do { step = try ms.receive(bytes) } catch { throw .negotiation(error) }
            output += step.output
            guard step.negotiated != nil else { phase = .securityNegotiation(ms); return }
            var hs = pendingHandshake
            if role == .dialer {
                do { output += try NoiseFrame.encode(try hs.initiate()) } catch { throw .noise(error) }
            }
            phase = .handshake(hs)
            if !step.remainder.isEmpty { try process(step.remainder, &events) }

        case .handshake(var hs):
            rawInput.append(bytes)
            while let message = NoiseFrame.decode(&rawInput) {
                let result: (reply: [UInt8]?, completion: NoiseHandshake.Completion?)
                do {
                    result = try hs.receive(message)
                    if let reply = result.reply { output += try NoiseFrame.encode(reply) }
                } catch { throw .noise(error) }
                if let done = result.completion {
                    remotePeer = done.remotePeer
                    remoteKey = done.remoteKey
                    events.append(.authenticated(done.remotePeer))
                    var transport = NoiseTransport(completion: done)
                    var ms = MultistreamSelect(role: role == .dialer
                        ? .initiator(proposals: [YamuxSession.protocolID])
                        : .responder(supported: [YamuxSession.protocolID]))
                    do { output += try transport.encrypt(ms.start()) } catch { throw .noise(error) }
                    phase = .muxerNegotiation(ms, transport)
                    let rest = rawInput.takeAll()
                    if !rest.isEmpty { try process(rest, &events) }
                    return
                }
            }
            phase = .handshake(hs)

        case .muxerNegotiation(var ms, var transport):
            let plaintext: [UInt8]
            do { plaintext = try transport.decrypt(bytes) } catch { throw .noise(error) }
            let step: MultistreamSelect.Step
            do { step = try ms.receive(plaintext) } catch { throw .negotiation(error) }
            if !step.output.isEmpty {
                do { output += try transport.encrypt(step.output) } catch { throw .noise(error) }
            }
            guard step.negotiated != nil else { phase = .muxerNegotiation(ms, transport); return }
            let session = YamuxSession(role: role == .dialer ? .client : .server, configuration: yamuxConfiguration)
            phase = .established(session, transport)
            events.append(.ready)
            if !step.remainder.isEmpty { try feedYamux(step.remainder, &events) }

        case .established(let session, var transport):
            phase = .failed  // the transport's input buffer stays uniquely referenced (no copy on append)
            let plaintext: [UInt8]
            do { plaintext = try transport.decrypt(bytes) } catch { throw .noise(error) }
            phase = .established(session, transport)
            try feedYamux(plaintext, &events)

        case .failed:
            throw .notReady
        }
    }

    private mutating func feedYamux(_ plaintext: [UInt8], _ events: inout [Event]) throws(Error) {
        guard case .established(var session, let transport) = phase else { throw .notReady }
        phase = .failed  // avoid copy-on-write of the session while mutating
        defer { phase = .established(session, transport); flushYamux() }
        do {
            events += try session.receive(plaintext).map(Event.stream)
        } catch {
            throw .yamux(error)
        }
    }

    /// Encrypts whatever yamux queued and appends it to the output.
    private mutating func flushYamux() {
        guard case .established(var session, var transport) = phase, session.hasOutput else { return }
        phase = .failed
        let plain = session.takeOutput()
        if let cipher = try? transport.encrypt(plain) { output += cipher }
        phase = .established(session, transport)
    }

    /// Runs a yamux operation on the established session.
    public mutating func withSession<T>(_ body: (inout YamuxSession) throws(YamuxError) -> T) throws(Error) -> T {
        guard case .established(var session, let transport) = phase else { throw .notReady }
        phase = .failed
        defer { phase = .established(session, transport); flushYamux() }
        do { return try body(&session) } catch { throw .yamux(error) }
    }
}

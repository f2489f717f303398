/// multistream-select 1.0 (libp2p/specs connections/README.md, multiformats/multistream-select):
/// every message is an unsigned-varint length prefix followed by UTF-8 text ending in `\n`.
/// Both peers first send the header `/multistream/1.0.0`; the initiator then proposes
/// protocols one at a time and the responder echoes the proposal to accept it or
/// answers `na`. Sans-IO: feed received bytes, send what it returns.
public struct MultistreamSelect: Sendable {
    public static let header = "/multistream/1.0.0"
    public static let notAvailable = "na"
    /// Longest message accepted (protocol ids are short; this bounds buffering).
    public static let maxMessageLength = 1024
    /// Upper bound on proposals a responder considers before giving up on the peer.
    public static let maxAttempts = 32

    public enum Role: Sendable {
        /// Proposes the protocols in order of preference.
        case initiator(proposals: [String])
        /// Accepts any of the supported protocols.
        case responder(supported: [String])
    }

    public enum Error: Swift.Error, Equatable, Sendable {
        case wrongHeader(String)
        case noProtocolAgreed
        case unexpectedMessage(String)
        case tooManyAttempts
        case wire(WireError)
    }

    /// Result of feeding bytes: what to send, whether negotiation finished, and
    /// bytes that followed the final negotiation message (early application data).
    public struct Step: Sendable, Equatable {
        public var output: [UInt8] = []
        public var negotiated: String?
        public var remainder: [UInt8] = []
    }

    private enum State: Sendable {
        case awaitingHeader
        case awaitingResponse(index: Int)   // initiator
        case awaitingProposal               // responder
        case done(String)
    }

    public let role: Role
    private var state: State = .awaitingHeader
    private var buffer = InputBuffer()
    private var attempts = 0

    public init(role: Role) { self.role = role }

    /// Encodes one multistream message.
    public static func encode(_ message: String) -> [UInt8] {
        VarintFrame.encode(Array((message + "\n").utf8))
    }

    /// The bytes to send first: the header, plus the first proposal for an initiator
    /// (pipelined, as the spec allows).
    public mutating func start() -> [UInt8] {
        var out = Self.encode(Self.header)
        if case .initiator(let proposals) = role, let first = proposals.first {
            out += Self.encode(first)
        }
        return out
    }

    public var negotiatedProtocol: String? {
        if case .done(let p) = state { return p }
        return nil
    }

    public mutating func receive(_ bytes: some Collection<UInt8>) throws(Error) -> Step {
        buffer.append(bytes)
        var step = Step()
        while negotiatedProtocol == nil, let message = try nextMessage() {
            try handle(message, &step)
        }
        if let p = negotiatedProtocol {
            step.negotiated = p
            step.remainder = buffer.takeAll()
        }
        return step
    }

    private mutating func nextMessage() throws(Error) -> String? {
        let decoded: (value: UInt64, length: Int)?
        do {
            decoded = try UVarint.decodeIfComplete(buffer.readable)
        } catch {
            throw .wire(error)
        }
        guard let (length, prefix) = decoded else {
            if buffer.count >= UVarint.maxLength { throw .wire(.varintOverflow) }
            return nil
        }
        guard length <= UInt64(Self.maxMessageLength) else {
            throw .wire(.lengthExceedsLimit(length: length, limit: Self.maxMessageLength))
        }
        guard buffer.count >= prefix + Int(length) else { return nil }
        buffer.drop(prefix)
        let body = buffer.take(Int(length))
        guard body.last == UInt8(ascii: "\n"), let text = String(validating: body.dropLast(), as: UTF8.self) else {
            throw .unexpectedMessage("message not terminated by newline or not UTF-8")
        }
        return text
    }

    private mutating func handle(_ message: String, _ step: inout Step) throws(Error) {
        switch (state, role) {
        case (.awaitingHeader, .initiator):
            guard message == Self.header else { throw .wrongHeader(message) }
            state = .awaitingResponse(index: 0)
        case (.awaitingHeader, .responder):
            guard message == Self.header else { throw .wrongHeader(message) }
            state = .awaitingProposal
        case (.awaitingResponse(let index), .initiator(let proposals)):
            if message == proposals[index] {
                state = .done(message)
            } else if message == Self.notAvailable {
                guard index + 1 < proposals.count else { throw .noProtocolAgreed }
                state = .awaitingResponse(index: index + 1)
                step.output += Self.encode(proposals[index + 1])
            } else {
                throw .unexpectedMessage(message)
            }
        case (.awaitingProposal, .responder(let supported)):
            attempts += 1
            guard attempts <= Self.maxAttempts else { throw .tooManyAttempts }
            if supported.contains(message) {
                state = .done(message)
                step.output += Self.encode(message)
            } else {
                // Covers `ls` too: listing is optional, declining is always valid.
                step.output += Self.encode(Self.notAvailable)
            }
        default:
            throw .unexpectedMessage(message)
        }
    }
}

import NIOCore

/// An authenticated, multiplexed connection to one remote peer.
public struct P2PConnection: Sendable {
    let handler: NIOLoopBound<ConnectionHandler>
    let eventLoop: any EventLoop
    public let remotePeer: PeerID
    public let remoteKey: PeerPublicKey
    public let remoteAddress: SocketAddress?
    public let localAddress: SocketAddress?
    public let role: SecureConnection.Role
    let channel: any Channel

    /// Opens a yamux stream and negotiates the first of `protocols` the peer supports.
    public func openStream(_ protocols: [String]) async throws -> P2PStream {
        let handler = self.handler
        let id = try await eventLoop.flatSubmit { handler.value.openStream(on: handler.eventLoop) }.get()
        let raw = P2PStream(id: id, connection: self, protocolID: nil)
        do {
            var ms = MultistreamSelect(role: .initiator(proposals: protocols))
            try await raw.write(ms.start())
            for _ in 0..<(MultistreamSelect.maxAttempts * 2) {
                guard let chunk = try await raw.read() else { throw P2PError.unexpectedEOF }
                let step = try ms.receive(chunk)
                if !step.output.isEmpty { try await raw.write(step.output) }
                if let p = step.negotiated {
                    raw.unread(step.remainder)
                    return P2PStream(id: id, connection: self, protocolID: p)
                }
            }
            throw P2PError.negotiationFailed("no agreement on \(protocols)")
        } catch let error as MultistreamSelect.Error {
            raw.reset()
            throw P2PError.negotiationFailed("\(error)")
        } catch {
            raw.reset()
            throw error
        }
    }

    public func openStream(_ protocolID: String) async throws -> P2PStream {
        try await openStream([protocolID])
    }

    /// A yamux-level ping (a session keep-alive, not `/ipfs/ping`); returns the round trip time.
    public func yamuxPing() async throws -> Duration {
        let handler = self.handler
        let start = ContinuousClock.now
        try await eventLoop.flatSubmit { handler.value.ping(on: handler.eventLoop) }.get()
        return ContinuousClock.now - start
    }

    /// Sends go-away and closes the socket.
    public func close() async {
        let handler = self.handler
        try? await eventLoop.submit { handler.value.goAway() }.get()
        try? await channel.close()
    }

    public var isActive: Bool { channel.isActive }

    /// Streams this connection still holds state for (receive buffers, yamux entries).
    func trackedStreams() async throws -> (buffers: Int, yamux: Int) {
        let handler = self.handler
        return try await eventLoop.submit { handler.value.trackedStreams() }.get()
    }

    /// Runs `/ipfs/ping/1.0.0` once; returns the round trip time.
    public func ping() async throws -> Duration {
        let stream = try await openStream(PingProtocol.protocolID)
        defer { stream.close() }
        var payload = [UInt8](repeating: 0, count: PingProtocol.payloadLength)
        var rng = SystemRandomNumberGenerator()
        for i in payload.indices { payload[i] = UInt8.random(in: .min ... .max, using: &rng) }
        let start = ContinuousClock.now
        try await stream.write(payload)
        var reader = StreamReader(stream)
        let echo = try await reader.readExactly(PingProtocol.payloadLength)
        guard echo == payload else { throw P2PError.protocolError("ping payload mismatch") }
        return ContinuousClock.now - start
    }

    /// Runs `/ipfs/id/1.0.0`: asks the peer to identify itself.
    public func identify() async throws -> IdentifyMessage {
        let stream = try await openStream(IdentifyMessage.protocolID)
        var reader = StreamReader(stream)
        let bytes = try await reader.readToEnd(maxLength: IdentifyMessage.maxLength + 4)
        stream.close()
        let message = try IdentifyMessage(stream: bytes)
        if let key = message.publicKey, !remotePeer.matches(key) {
            throw P2PError.peerMismatch(expected: remotePeer, actual: key.peerID)
        }
        return message
    }
}

/// One yamux stream of a ``P2PConnection``.
public struct P2PStream: Sendable {
    public let id: UInt32
    public let connection: P2PConnection
    /// The protocol negotiated with multistream-select (nil before negotiation).
    public let protocolID: String?

    private var handler: NIOLoopBound<ConnectionHandler> { connection.handler }

    /// The next chunk of data, or `nil` once the peer closed its side.
    public func read() async throws -> [UInt8]? {
        let handler = self.handler, id = self.id
        return try await connection.eventLoop.flatSubmit { handler.value.read(id, on: handler.eventLoop) }.get()
    }

    /// Writes data; suspends while the peer's receive window is exhausted.
    public func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        let handler = self.handler, id = self.id
        try await connection.eventLoop.flatSubmit { handler.value.write(id, bytes, on: handler.eventLoop) }.get()
    }

    /// Half-closes: the peer sees end-of-stream, reading remains possible.
    public func closeWrite() {
        let handler = self.handler, id = self.id
        connection.eventLoop.execute { handler.value.closeWrite(id) }
    }

    public func reset() {
        let handler = self.handler, id = self.id
        connection.eventLoop.execute { handler.value.reset(id) }
    }

    /// Closes the stream when done with it: half-closes the write side and
    /// discards whatever the peer still sends (use ``closeWrite()`` to keep reading).
    public func close() {
        let handler = self.handler, id = self.id
        connection.eventLoop.execute { handler.value.close(id) }
    }

    func unread(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        let handler = self.handler, id = self.id
        connection.eventLoop.execute { handler.value.unread(id, bytes) }
    }
}

/// Bounded framing helpers over a stream's chunks.
public struct StreamReader {
    public let stream: P2PStream
    private var buffer = InputBuffer()
    private var eof = false

    public init(_ stream: P2PStream) { self.stream = stream }

    private mutating func fill() async throws -> Bool {
        guard !eof else { return false }
        guard let chunk = try await stream.read() else { eof = true; return false }
        buffer.append(chunk)
        return true
    }

    public mutating func readExactly(_ count: Int) async throws -> [UInt8] {
        while buffer.count < count {
            guard try await fill() else { throw P2PError.unexpectedEOF }
        }
        return buffer.take(count)
    }

    /// One unsigned-varint-length-prefixed message; `nil` on a clean end-of-stream.
    public mutating func readFrame(maxLength: Int) async throws -> [UInt8]? {
        // Decodes in place (no copy of the buffered bytes per frame); every pass either
        // returns, throws, or appends at least one byte, and the frame is length-bounded.
        while true {
            let prefix = buffer.readable.prefix(UVarint.maxLength)
            if let (length, used) = try UVarint.decodeIfComplete(prefix) {
                guard length <= UInt64(maxLength) else { throw WireError.lengthExceedsLimit(length: length, limit: maxLength) }
                if buffer.count >= used + Int(length) {
                    buffer.drop(used)
                    return buffer.take(Int(length))
                }
            } else if prefix.count >= UVarint.maxLength {
                throw WireError.varintOverflow
            }
            guard try await fill() else {
                if buffer.isEmpty { return nil }
                throw P2PError.unexpectedEOF
            }
        }
    }

    public mutating func readToEnd(maxLength: Int) async throws -> [UInt8] {
        while try await fill() {
            guard buffer.count <= maxLength else { throw P2PError.limitExceeded("stream longer than \(maxLength) bytes") }
        }
        return buffer.takeAll()
    }
}

/// A yamux session (`/yamux/1.0.0`, hashicorp/yamux spec.md) as a Sans-IO state machine.
///
/// Feed it decrypted connection bytes with ``receive(_:)`` and act on the
/// returned events; call the stream operations for local actions; drain the
/// bytes to send with ``takeOutput()``. Flow control follows the spec: every
/// stream starts with a 256 KiB window in each direction, a sender never
/// exceeds the peer's window, and the receiver returns credit with window
/// updates as the application consumes data (``consumed(_:count:)``).
/// The dialer (client) uses odd stream ids, the listener (server) even ones.
public struct YamuxSession: Sendable {
    public static let protocolID = "/yamux/1.0.0"
    public static let initialWindow: UInt32 = 256 * 1024

    public enum Role: Sendable { case client, server }

    public struct Configuration: Sendable {
        /// Streams open at once, both directions together.
        public var maxStreams = 512
        /// Largest data frame payload this side emits.
        public var maxFramePayload = 16 * 1024
        /// Unsent bytes buffered per stream while the peer's window is closed.
        public var maxPendingSendBytes = 1024 * 1024
        /// Unsent bytes buffered across all streams of the session (the send side of the
        /// per-connection memory bound; issue 11). A write beyond it fails instead of queueing.
        public var maxPendingSendBytesTotal = 8 * 1024 * 1024
        public init() {}
    }

    public enum Event: Equatable, Sendable {
        /// The peer opened a stream (its SYN arrived); it has already been acknowledged.
        case streamOpened(UInt32)
        case data(UInt32, [UInt8])
        /// The peer half-closed its side (FIN): no more data will arrive.
        case remoteClosed(UInt32)
        /// The stream was reset by the peer (RST) and is gone.
        case reset(UInt32)
        /// Both sides closed; the stream is gone.
        case streamFinished(UInt32)
        /// Buffered writes of the stream have all been sent.
        case writable(UInt32)
        case pong(UInt32)
        case goAway(UInt32)
    }

    struct StreamState: Sendable {
        var sendWindow: UInt32 = YamuxSession.initialWindow
        var receiveWindow: UInt32 = YamuxSession.initialWindow
        var consumedSinceUpdate: UInt32 = 0
        var pending: [UInt8] = []
        var pendingFIN = false
        var localClosed = false
        var remoteClosed = false
        var acknowledged: Bool
    }

    public let role: Role
    public let configuration: Configuration
    private var streams: [UInt32: StreamState] = [:]
    private var nextStreamID: UInt32
    private var buffer = InputBuffer()
    private var output: [UInt8] = []
    private var currentHeader: YamuxHeader?
    /// Payload bytes of a refused data frame still to be discarded as they arrive
    /// (never buffered: a refused frame costs no memory whatever its length).
    private var skipRemaining = 0
    /// Highest stream id the peer opened (SYN), accepted or refused: data for a
    /// higher id without SYN names a stream that never existed.
    private var highestRemoteStreamID: UInt32 = 0
    /// Set by a protocol error: the session reads nothing more.
    private var failed = false
    public private(set) var localGoAway = false
    public private(set) var remoteGoAway = false

    public init(role: Role, configuration: Configuration = .init()) {
        self.role = role
        self.configuration = configuration
        self.nextStreamID = role == .client ? 1 : 2
    }

    public var openStreamCount: Int { streams.count }
    /// Received bytes held by the decoder: at most one header plus one admitted
    /// payload (≤ the 256 KiB window) plus the last chunk fed in.
    var bufferedInputBytes: Int { buffer.count }
    public var hasOutput: Bool { !output.isEmpty }

    /// Bytes to write to the underlying (secure) connection.
    public mutating func takeOutput() -> [UInt8] {
        defer { output = [] }
        return output
    }

    private mutating func emit(_ header: YamuxHeader, _ payload: ArraySlice<UInt8> = []) {
        output += header.encoded
        output += payload
    }

    // MARK: local operations

    /// Opens an outbound stream (SYN on a window update, as the spec suggests).
    public mutating func openStream() throws(YamuxError) -> UInt32 {
        guard !localGoAway, !remoteGoAway else { throw .sessionClosed }
        guard streams.count < configuration.maxStreams else { throw .tooManyStreams }
        guard nextStreamID <= UInt32.max - 2 else { throw .tooManyStreams }
        let id = nextStreamID
        nextStreamID += 2
        streams[id] = StreamState(acknowledged: false)
        emit(YamuxHeader(type: .windowUpdate, flags: .syn, streamID: id, length: 0))
        return id
    }

    /// Queues data on a stream; sends as much as the peer's window allows.
    public mutating func write(_ id: UInt32, _ data: [UInt8]) throws(YamuxError) {
        guard var s = streams[id] else { throw .unknownStream(id) }
        guard !s.localClosed else { throw .streamClosed(id) }
        guard s.pending.count + data.count <= configuration.maxPendingSendBytes,
              pendingSendBytesTotal + data.count <= configuration.maxPendingSendBytesTotal else {
            throw .sendBufferFull(id)
        }
        s.pending += data
        streams[id] = s
        flush(id)
    }

    /// Bytes accepted by ``write(_:_:)`` but not yet sent.
    public func pendingSendBytes(_ id: UInt32) -> Int { streams[id]?.pending.count ?? 0 }

    /// Bytes accepted by ``write(_:_:)`` and not yet sent, across all streams.
    public var pendingSendBytesTotal: Int { streams.values.reduce(0) { $0 + $1.pending.count } }

    /// Half-closes the stream (FIN after any pending data).
    public mutating func closeWrite(_ id: UInt32) -> [Event] {
        guard var s = streams[id], !s.localClosed else { return [] }
        s.localClosed = true
        s.pendingFIN = true
        streams[id] = s
        flush(id)
        return finishIfDone(id)
    }

    /// Aborts the stream (RST) and forgets it.
    public mutating func reset(_ id: UInt32) {
        guard streams.removeValue(forKey: id) != nil else { return }
        emit(YamuxHeader(type: .windowUpdate, flags: .rst, streamID: id, length: 0))
    }

    /// Tells the session the application consumed `count` received bytes; sends
    /// a window update once half the window has been consumed.
    public mutating func consumed(_ id: UInt32, count: Int) {
        guard var s = streams[id], !s.remoteClosed else { return }
        // Credit never exceeds what was received: the window cannot grow past its initial size.
        let outstanding = Self.initialWindow - min(Self.initialWindow, s.receiveWindow + s.consumedSinceUpdate)
        s.consumedSinceUpdate += min(UInt32(clamping: count), outstanding)
        if s.consumedSinceUpdate >= Self.initialWindow / 2 {
            let delta = s.consumedSinceUpdate
            s.receiveWindow += delta
            s.consumedSinceUpdate = 0
            emit(YamuxHeader(type: .windowUpdate, streamID: id, length: delta))
        }
        streams[id] = s
    }

    public mutating func ping(_ opaque: UInt32) {
        emit(YamuxHeader(type: .ping, flags: .syn, streamID: 0, length: opaque))
    }

    public mutating func goAway(_ code: YamuxGoAwayCode = .normal) {
        guard !localGoAway else { return }
        localGoAway = true
        emit(YamuxHeader(type: .goAway, streamID: 0, length: code.rawValue))
    }

    private mutating func flush(_ id: UInt32) {
        guard var s = streams[id] else { return }
        var sent = 0  // consumed from the front of `pending`, removed once at the end (no quadratic copying)
        while sent < s.pending.count && s.sendWindow > 0 {
            let n = min(s.pending.count - sent, Int(s.sendWindow), configuration.maxFramePayload)
            var flags: YamuxHeader.Flags = []
            if s.pendingFIN && sent + n == s.pending.count { flags.insert(.fin); s.pendingFIN = false }
            emit(YamuxHeader(type: .data, flags: flags, streamID: id, length: UInt32(n)), s.pending[sent..<(sent + n)])
            sent += n
            s.sendWindow -= UInt32(n)
        }
        if sent == s.pending.count { s.pending = [] } else if sent > 0 { s.pending.removeFirst(sent) }
        if s.pendingFIN && s.pending.isEmpty {
            emit(YamuxHeader(type: .windowUpdate, flags: .fin, streamID: id, length: 0))
            s.pendingFIN = false
        }
        streams[id] = s
    }

    private mutating func finishIfDone(_ id: UInt32) -> [Event] {
        guard let s = streams[id], s.localClosed, s.remoteClosed, s.pending.isEmpty, !s.pendingFIN else { return [] }
        streams[id] = nil
        return [.streamFinished(id)]
    }

    // MARK: receiving

    /// Feeds received bytes. Throws on a protocol violation, after queueing a
    /// go-away with the protocol-error code; the connection should then be closed.
    ///
    /// Every data frame is judged from its 12-byte header alone, before any of its
    /// payload is buffered (security review finding 4): see ``admitData(_:)``.
    public mutating func receive(_ bytes: some Collection<UInt8>) throws(YamuxError) -> [Event] {
        // After a protocol error nothing more is read or held.
        guard !failed else { throw .sessionClosed }
        buffer.append(bytes)
        var events: [Event] = []
        do throws(YamuxError) {
            while true {
                if skipRemaining > 0 {
                    let n = min(skipRemaining, buffer.count)
                    buffer.drop(n)
                    skipRemaining -= n
                    guard skipRemaining == 0 else { break }
                }
                if currentHeader == nil {
                    guard buffer.count >= YamuxHeader.length else { break }
                    let header = try YamuxHeader(decoding: buffer.take(YamuxHeader.length))
                    if header.type == .data, try !admitData(header) {
                        skipRemaining = Int(header.length)
                        continue
                    }
                    currentHeader = header
                }
                guard let header = currentHeader else { break }
                if header.type == .data {
                    guard buffer.count >= Int(header.length) else { break }
                }
                currentHeader = nil
                try handle(header, &events)
            }
        } catch {
            failed = true
            buffer = InputBuffer()
            goAway(.protocolError)
            throw error
        }
        return events
    }

    /// Decides, from the header alone, what happens to a data frame's payload:
    /// `true` buffers it for delivery, `false` discards it unbuffered as it arrives,
    /// and a throw is a session-level protocol error (the caller sends GO_AWAY with
    /// the protocol-error code and the connection is closed).
    ///
    /// - More than the stream's remaining receive window (or, for a new or forgotten
    ///   stream, more than the initial 256 KiB window): protocol error — the spec
    ///   forbids a sender to exceed the window, and no honest peer can.
    /// - Data after the peer's own FIN: protocol error.
    /// - A stream that never existed (no SYN, an id beyond any the peer opened or we
    ///   allocated): protocol error.
    /// - A stream that existed and is gone (we reset it, or refused its SYN): the
    ///   frame may have been in flight when the RST left, so it is discarded, as
    ///   hashicorp/yamux does; it is at most one window long.
    private func admitData(_ header: YamuxHeader) throws(YamuxError) -> Bool {
        let id = header.streamID
        guard id != 0 else { throw .protocolViolation("data frame on stream 0") }
        if let s = streams[id] {
            guard header.length <= s.receiveWindow else { throw .receiveWindowExceeded(id) }
            guard header.length == 0 || !s.remoteClosed || header.flags.contains(.rst) else {
                throw .protocolViolation("data after FIN on stream \(id)")
            }
            return true
        }
        guard header.length <= Self.initialWindow else { throw .receiveWindowExceeded(id) }
        if header.flags.contains(.syn) { return true }
        guard existed(id) else { throw .unknownStream(id) }
        return false
    }

    /// Whether stream `id` was ever opened by either side.
    private func existed(_ id: UInt32) -> Bool {
        let local = (id % 2 == 1) == (role == .client)
        return local ? id < nextStreamID : id <= highestRemoteStreamID
    }

    private mutating func handle(_ header: YamuxHeader, _ events: inout [Event]) throws(YamuxError) {
        switch header.type {
        case .ping:
            guard header.streamID == 0 else { throw .protocolViolation("ping on stream \(header.streamID)") }
            if header.flags.contains(.syn) {
                emit(YamuxHeader(type: .ping, flags: .ack, streamID: 0, length: header.length))
            } else if header.flags.contains(.ack) {
                events.append(.pong(header.length))
            }
        case .goAway:
            remoteGoAway = true
            events.append(.goAway(header.length))
        case .data, .windowUpdate:
            let id = header.streamID
            guard id != 0 else { throw .protocolViolation("stream frame on stream 0") }
            if header.flags.contains(.syn) {
                try acceptStream(id, &events)
            }
            if header.flags.contains(.ack) { streams[id]?.acknowledged = true }
            if header.flags.contains(.rst) {
                if streams.removeValue(forKey: id) != nil { events.append(.reset(id)) }
                if header.type == .data { buffer.drop(Int(header.length)) }  // admitted: at most one window
                return
            }
            guard var s = streams[id] else {
                if header.type == .data { buffer.drop(Int(header.length)) }
                return
            }
            if header.type == .data {
                if header.length > 0 {
                    guard !s.remoteClosed else { throw .protocolViolation("data after FIN on stream \(id)") }
                    s.receiveWindow -= header.length
                    events.append(.data(id, buffer.take(Int(header.length))))
                }
            } else if header.length > 0 {
                let (sum, overflow) = s.sendWindow.addingReportingOverflow(header.length)
                guard !overflow else { throw .protocolViolation("window overflow on stream \(id)") }
                s.sendWindow = sum
                let hadPending = !s.pending.isEmpty
                streams[id] = s
                flush(id)
                s = streams[id]!
                if hadPending && s.pending.isEmpty { events.append(.writable(id)) }
            }
            if header.flags.contains(.fin) && !s.remoteClosed {
                s.remoteClosed = true
                streams[id] = s
                events.append(.remoteClosed(id))
                events += finishIfDone(id)
            } else {
                streams[id] = s
            }
        }
    }

    private mutating func acceptStream(_ id: UInt32, _ events: inout [Event]) throws(YamuxError) {
        guard streams[id] == nil else { throw .protocolViolation("duplicate SYN for stream \(id)") }
        let remoteIsOdd = role == .server
        guard (id % 2 == 1) == remoteIsOdd else { throw .protocolViolation("stream id \(id) has the wrong parity") }
        highestRemoteStreamID = max(highestRemoteStreamID, id)
        guard !localGoAway, streams.count < configuration.maxStreams else {
            emit(YamuxHeader(type: .windowUpdate, flags: .rst, streamID: id, length: 0))
            return
        }
        streams[id] = StreamState(acknowledged: true)
        emit(YamuxHeader(type: .windowUpdate, flags: .ack, streamID: id, length: 0))
        events.append(.streamOpened(id))
    }
}

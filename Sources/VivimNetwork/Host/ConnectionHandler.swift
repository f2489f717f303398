import NIOCore
import Logging
import Synchronization

/// A node-wide byte cap shared by every connection of a ``P2PHost`` (issue 11): one for
/// inbound bytes held for applications (received, not yet read), one for bytes the
/// applications wrote that wait for the peers' yamux windows.
final class MemoryBudget: Sendable {
    let limit: Int
    private let used = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    /// Takes `count` bytes of the budget; false (and nothing taken) when it would overflow.
    func reserve(_ count: Int) -> Bool {
        var current = used.load(ordering: .relaxed)
        while true {
            guard count <= limit - current else { return false }
            let (exchanged, original) = used.compareExchange(expected: current, desired: current + count, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
    }

    func release(_ count: Int) { _ = used.subtract(count, ordering: .relaxed) }

    var inUse: Int { used.load(ordering: .relaxed) }
}

/// The I/O shell of one libp2p connection: a channel handler that feeds socket
/// bytes to the ``SecureConnection`` state machine, writes what it produces, and
/// turns its stream events into awaitable reads for ``P2PStream``. All state is
/// confined to the channel's event loop.
final class ConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// A stream's receive side, as seen by the application.
    struct StreamBuffer {
        var chunks: [[UInt8]] = []
        var unread: [UInt8] = []
        var eof = false
        var error: P2PError?
        var reader: EventLoopPromise<[UInt8]?>?
        var writeWaiters: [EventLoopPromise<Void>] = []
        /// Both directions are closed at the yamux level.
        var finished = false
        /// The application closed the stream and will not read again: data is dropped.
        var discarding = false
    }

    /// Above this many unsent bytes on a stream, writers wait for window credit.
    static let writeHighWater = 256 * 1024

    /// The resource limits of one connection (see ``P2PHost/Configuration``).
    struct Limits: Sendable {
        /// Inbound bytes held for the application across all streams of this connection.
        var maxBufferedReceiveBytes = 8 * 1024 * 1024
        /// The node-wide cap the held bytes also count against.
        var budget = MemoryBudget(limit: 256 * 1024 * 1024)
        /// The node-wide cap on written bytes waiting for window credit (the per-connection
        /// cap is ``YamuxSession/Configuration/maxPendingSendBytesTotal``).
        var sendBudget = MemoryBudget(limit: 256 * 1024 * 1024)
        /// Closes the established connection after this long with no stream and no
        /// stream traffic (nil: never). yamux pings do not count as activity.
        var idleTimeout: Duration?
        /// Connections to these peers are exempt from the idle timeout (bootstrap peers
        /// the connection manager keeps).
        var keepAlive: @Sendable (PeerID) -> Bool = { _ in false }
        /// Bytes written to the socket but not yet accepted by the kernel (the peer does not
        /// read) above which the connection is closed. Writers already wait while the
        /// channel is not writable; this bounds what the protocol itself answers (window
        /// updates, pings) to a peer that sends but never reads.
        var maxUnsentBytes = 16 * 1024 * 1024
    }

    private var machine: SecureConnection
    private var context: ChannelHandlerContext?
    private var streams: [UInt32: StreamBuffer] = [:]
    private var pings: [UInt32: EventLoopPromise<Void>] = [:]
    private var nextPingID: UInt32 = 1
    private var closedError: P2PError?
    private let ready: EventLoopPromise<P2PConnection>
    private let onInboundStream: @Sendable (P2PStream, P2PConnection) -> Void
    private var connection: P2PConnection?
    private let logger: Logger
    private let limits: Limits
    /// Bytes in ``StreamBuffer/chunks`` across all streams (counted in ``limits``' budget too).
    private var heldBytes = 0
    /// Last stream open, stream data in either direction or stream close.
    private var lastActivity = NIODeadline.now()
    private var idleCheck: RepeatedTask?
    /// Bytes of ``Limits/sendBudget`` this connection holds (its yamux pending bytes).
    private var sendAccounted = 0
    /// Writers waiting for the socket to drain (channel not writable).
    private var drainWaiters: [EventLoopPromise<Void>] = []

    init(machine: SecureConnection, ready: EventLoopPromise<P2PConnection>, limits: Limits = .init(),
         logger: Logger, onInboundStream: @escaping @Sendable (P2PStream, P2PConnection) -> Void) {
        self.machine = machine
        self.ready = ready
        self.limits = limits
        self.logger = logger
        self.onInboundStream = onInboundStream
    }

    // MARK: channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    private var started = false
    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        machine.start()
        flush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        do {
            let events = try machine.receive(bytes)
            for event in events { handle(event, context) }
            flush()
        } catch {
            logger.debug("closing connection after protocol error", metadata: ["error": "\(error)"])
            fail(.protocolError("\(error)"))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(.connectionClosed)
        idleCheck?.cancel()
        idleCheck = nil
        for id in Array(streams.keys) { releaseChunks(id) }
        limits.sendBudget.release(sendAccounted)
        sendAccounted = 0
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(.io("\(error)"))
        context.close(promise: nil)
    }

    private func handle(_ event: SecureConnection.Event, _ context: ChannelHandlerContext) {
        switch event {
        case .authenticated(let peer):
            logger.trace("noise handshake complete", metadata: ["peer": "\(peer)"])
        case .ready:
            guard let peer = machine.remotePeer, let key = machine.remoteKey else { return }
            let conn = P2PConnection(
                handler: NIOLoopBound(self, eventLoop: context.eventLoop), eventLoop: context.eventLoop,
                remotePeer: peer, remoteKey: key, remoteAddress: context.channel.remoteAddress,
                localAddress: context.channel.localAddress, role: machine.role, channel: context.channel)
            connection = conn
            lastActivity = .now()
            startIdleCheck(context)
            ready.succeed(conn)
        case .stream(let e):
            handle(e)
        }
    }

    private func handle(_ event: YamuxSession.Event) {
        switch event {
        case .streamOpened(let id):
            lastActivity = .now()
            streams[id] = StreamBuffer()
            if let connection {
                onInboundStream(P2PStream(id: id, connection: connection, protocolID: nil), connection)
            }
        case .data(let id, let bytes):
            lastActivity = .now()
            guard var s = streams[id] else { return }
            if s.discarding {
                _ = try? machine.withSession { $0.consumed(id, count: bytes.count) }
                return
            }
            if let reader = s.reader {
                s.reader = nil
                streams[id] = s
                deliver(id, bytes, to: reader)
            } else if heldBytes + bytes.count <= limits.maxBufferedReceiveBytes, limits.budget.reserve(bytes.count) {
                s.chunks.append(bytes)
                streams[id] = s
                heldBytes += bytes.count
            } else {
                // Over the connection's or the node's cap: reset the stream that would
                // grow it (its own window is within the spec, so this is not a protocol
                // error). Not backpressure: pausing the socket would stall every other
                // stream behind data nobody reads.
                logger.debug("inbound buffer cap reached, resetting stream", metadata: ["stream": "\(id)"])
                reset(id, error: .limitExceeded("inbound buffer"))
            }
        case .remoteClosed(let id):
            guard var s = streams[id] else { return }
            if s.discarding { return }
            s.eof = true
            if s.chunks.isEmpty, let reader = s.reader { s.reader = nil; reader.succeed(nil) }
            streams[id] = s
        case .reset(let id):
            guard var s = streams[id] else { return }
            if s.discarding { streams[id] = nil; return }
            s.error = .streamReset
            s.reader?.fail(P2PError.streamReset); s.reader = nil
            s.writeWaiters.forEach { $0.fail(P2PError.streamReset) }; s.writeWaiters = []
            streams[id] = s
        case .streamFinished(let id):
            // The receive buffer stays until the reader has drained it.
            if streams[id]?.discarding == true { streams[id] = nil } else { streams[id]?.finished = true }
        case .writable(let id):
            guard var s = streams[id] else { return }
            let waiters = s.writeWaiters
            s.writeWaiters = []
            streams[id] = s
            waiters.forEach { $0.succeed() }
        case .pong(let value):
            pings.removeValue(forKey: value)?.succeed()
        case .goAway(let code):
            logger.debug("peer sent go-away", metadata: ["code": "\(code)"])
        }
    }

    private func deliver(_ id: UInt32, _ bytes: [UInt8], to reader: EventLoopPromise<[UInt8]?>) {
        _ = try? machine.withSession { $0.consumed(id, count: bytes.count) }
        flush()
        reader.succeed(bytes)
    }

    private func flush() {
        syncSendAccounting()
        guard let context else { return }
        let out = machine.takeOutput()
        guard !out.isEmpty else { return }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: out)), promise: nil)
        if let unsent = try? context.channel.syncOptions?.getOption(.bufferedWritableBytes), unsent > limits.maxUnsentBytes {
            logger.debug("peer does not read, closing", metadata: ["unsent": "\(unsent)"])
            fail(.limitExceeded("unsent bytes"))
            context.close(promise: nil)
        }
    }

    /// Returns to the node's send budget what yamux has sent since (pending only shrinks
    /// in session operations, each followed by a flush).
    private func syncSendAccounting() {
        guard sendAccounted > 0 else { return }
        let pending = (try? machine.withSession { $0.pendingSendBytesTotal }) ?? 0
        if sendAccounted > pending {
            limits.sendBudget.release(sendAccounted - pending)
            sendAccounted = pending
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            let waiters = drainWaiters
            drainWaiters = []
            waiters.forEach { $0.succeed() }
        }
        context.fireChannelWritabilityChanged()
    }

    private func fail(_ error: P2PError) {
        guard closedError == nil else { return }
        closedError = error
        ready.fail(error)
        for (id, var s) in streams {
            if s.error == nil && !s.eof { s.error = error }
            if let reader = s.reader {
                if let e = s.error { reader.fail(e) } else { reader.succeed(nil) }
                s.reader = nil
            }
            s.writeWaiters.forEach { $0.fail(error) }
            s.writeWaiters = []
            streams[id] = s
        }
        pings.values.forEach { $0.fail(error) }
        pings = [:]
        drainWaiters.forEach { $0.fail(error) }
        drainWaiters = []
    }

    // MARK: operations (called on the event loop by P2PConnection / P2PStream)

    func openStream(on eventLoop: any EventLoop) -> EventLoopFuture<UInt32> {
        if let closedError { return eventLoop.makeFailedFuture(closedError) }
        do {
            let id = try machine.withSession { session throws(YamuxError) in try session.openStream() }
            streams[id] = StreamBuffer()
            flush()
            return eventLoop.makeSucceededFuture(id)
        } catch {
            return eventLoop.makeFailedFuture(P2PError.protocolError("\(error)"))
        }
    }

    func read(_ id: UInt32, on eventLoop: any EventLoop) -> EventLoopFuture<[UInt8]?> {
        guard var s = streams[id] else { return eventLoop.makeFailedFuture(P2PError.streamClosed) }
        if !s.unread.isEmpty {
            let bytes = s.unread
            s.unread = []
            streams[id] = s
            return eventLoop.makeSucceededFuture(bytes)
        }
        if !s.chunks.isEmpty {
            let bytes = s.chunks.removeFirst()
            streams[id] = s
            heldBytes -= bytes.count
            limits.budget.release(bytes.count)
            _ = try? machine.withSession { $0.consumed(id, count: bytes.count) }
            flush()
            return eventLoop.makeSucceededFuture(bytes)
        }
        if s.eof {
            if s.finished { streams[id] = nil }  // fully closed and drained: forget it
            return eventLoop.makeSucceededFuture(nil)
        }
        if let error = s.error {
            streams[id] = nil
            return eventLoop.makeFailedFuture(error)
        }
        guard s.reader == nil else { return eventLoop.makeFailedFuture(P2PError.concurrentRead) }
        let promise = eventLoop.makePromise(of: [UInt8]?.self)
        s.reader = promise
        streams[id] = s
        return promise.futureResult
    }

    /// Puts bytes back in front of the stream's receive buffer (left over after negotiation).
    func unread(_ id: UInt32, _ bytes: [UInt8]) {
        guard !bytes.isEmpty, var s = streams[id] else { return }
        s.unread = bytes + s.unread
        streams[id] = s
    }

    func write(_ id: UInt32, _ bytes: [UInt8], on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        if let closedError { return eventLoop.makeFailedFuture(closedError) }
        lastActivity = .now()
        if let error = streams[id]?.error { return eventLoop.makeFailedFuture(error) }
        guard limits.sendBudget.reserve(bytes.count) else {
            return eventLoop.makeFailedFuture(P2PError.limitExceeded("node send buffer"))
        }
        sendAccounted += bytes.count
        do {
            let pending = try machine.withSession { session throws(YamuxError) in
                try session.write(id, bytes)
                return session.pendingSendBytes(id)
            }
            flush()
            if let closedError { return eventLoop.makeFailedFuture(closedError) }
            if pending > Self.writeHighWater {
                let promise = eventLoop.makePromise(of: Void.self)
                streams[id]?.writeWaiters.append(promise)
                return promise.futureResult
            }
            if let context, !context.channel.isWritable {
                // The socket's send buffer is full: wait for it to drain (bounds what queues in NIO).
                let promise = eventLoop.makePromise(of: Void.self)
                drainWaiters.append(promise)
                return promise.futureResult
            }
            return eventLoop.makeSucceededFuture(())
        } catch {
            syncSendAccounting()
            if case .yamux(.sendBufferFull) = error {
                return eventLoop.makeFailedFuture(P2PError.limitExceeded("send buffer of stream \(id)"))
            }
            return eventLoop.makeFailedFuture(P2PError.protocolError("\(error)"))
        }
    }

    func closeWrite(_ id: UInt32) {
        if let events = try? machine.withSession({ $0.closeWrite(id) }) {
            events.forEach { handle($0) }
        }
        flush()
    }

    func reset(_ id: UInt32) { reset(id, error: .streamReset) }

    private func reset(_ id: UInt32, error: P2PError) {
        _ = try? machine.withSession { $0.reset(id) }
        releaseChunks(id)
        if let s = streams.removeValue(forKey: id) {
            s.reader?.fail(error)
            s.writeWaiters.forEach { $0.fail(error) }
        }
        flush()
    }

    /// Drops a stream's unread chunks and returns their bytes to the budgets.
    @discardableResult
    private func releaseChunks(_ id: UInt32) -> Int {
        guard var s = streams[id], !s.chunks.isEmpty else { return 0 }
        let count = s.chunks.reduce(0) { $0 + $1.count }
        s.chunks = []
        streams[id] = s
        heldBytes -= count
        limits.budget.release(count)
        return count
    }

    // MARK: idle timeout

    private func startIdleCheck(_ context: ChannelHandlerContext) {
        guard let timeout = limits.idleTimeout else { return }
        let ns = max(timeout.saturatingNanoseconds, 1_000_000)
        let period = TimeAmount.nanoseconds(max(ns / 4, 1_000_000))
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        idleCheck = context.eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { _ in
            loopBound.value.closeIfIdle(after: .nanoseconds(ns))
        }
    }

    /// Closes the connection when it has no stream, saw no stream traffic for `timeout`,
    /// and its peer is not kept alive (bootstrap).
    private func closeIfIdle(after timeout: TimeAmount) {
        guard let context, closedError == nil, streams.isEmpty,
              (try? machine.withSession { $0.openStreamCount }) == 0,
              NIODeadline.now() - lastActivity >= timeout,
              let peer = machine.remotePeer, !limits.keepAlive(peer) else { return }
        logger.debug("closing idle connection", metadata: ["peer": "\(peer)"])
        goAway()
        idleCheck?.cancel()
        idleCheck = nil
        context.close(promise: nil)
    }

    /// Half-closes and stops reading: later data is dropped (window credit is
    /// still returned) and the stream is forgotten once the peer closes too.
    func close(_ id: UInt32) {
        // Dropped chunks count as consumed, as later discarded data does: the peer's window reopens.
        let dropped = releaseChunks(id)
        if dropped > 0 { _ = try? machine.withSession { $0.consumed(id, count: dropped) } }
        guard var s = streams[id] else { return }
        s.discarding = true
        s.chunks = []
        s.unread = []
        s.reader?.succeed(nil)
        s.reader = nil
        if s.eof && s.finished || s.error != nil {
            streams[id] = nil
        } else {
            streams[id] = s
        }
        closeWrite(id)
    }

    func ping(on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        if let closedError { return eventLoop.makeFailedFuture(closedError) }
        let id = nextPingID
        nextPingID &+= 1
        let promise = eventLoop.makePromise(of: Void.self)
        pings[id] = promise
        _ = try? machine.withSession { $0.ping(id) }
        flush()
        return promise.futureResult
    }

    /// Streams with state in this handler and in its yamux session (for leak checks).
    func trackedStreams() -> (buffers: Int, yamux: Int) {
        (streams.count, (try? machine.withSession { $0.openStreamCount }) ?? 0)
    }

    func goAway() {
        _ = try? machine.withSession { $0.goAway(.normal) }
        flush()
    }
}

/// Errors surfaced by the connection shell to its users.
public enum P2PError: Error, Equatable, Sendable {
    case connectionClosed
    case streamClosed
    case streamReset
    case concurrentRead
    case protocolError(String)
    case io(String)
    case negotiationFailed(String)
    case unexpectedEOF
    case limitExceeded(String)
    case timeout
    case invalidAddress(String)
    case peerMismatch(expected: PeerID, actual: PeerID)
}

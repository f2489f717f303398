/// Serves and fetches bundles over `/vivim/content/1.0.0` with bounded
/// concurrency (SPEC §8.6: 50 transfers by default, each direction) and
/// verifies every fetched bundle against its hash.
public actor ContentTransferService {
    public struct Configuration: Sendable {
        public var maxConcurrentTransfers = 50
        public var maxBundleSize = 64 * 1024 * 1024
        /// Bytes written per stream write while serving.
        public var chunkSize = 64 * 1024
        public init() {}
    }

    public enum Error: Swift.Error, Equatable, Sendable {
        case notFound
        case busy
        case tooLarge(UInt64)
        case hashMismatch
        case truncated
    }

    /// Looks up a bundle this node can serve; nil refuses (not held, revoked, tombstoned).
    public typealias Source = @Sendable (ContentHash) async -> [UInt8]?

    private let host: P2PHost
    private let configuration: Configuration
    private var source: Source
    private var serving = 0
    private var fetching = 0
    private var fetchWaiters: [CheckedContinuation<Void, Never>] = []

    public init(host: P2PHost, configuration: Configuration = .init(), source: @escaping Source) {
        self.host = host
        self.configuration = configuration
        self.source = source
    }

    /// Replaces the lookup of served bundles (e.g. with one that refuses tombstoned hashes).
    public func setSource(_ source: @escaping Source) { self.source = source }

    public func start() {
        host.handle(ContentTransferProtocol.protocolID) { [weak self] stream in
            try await self?.serve(stream)
        }
    }

    public var activeTransfers: (serving: Int, fetching: Int) { (serving, fetching) }

    // MARK: serving

    private func serve(_ stream: P2PStream) async throws {
        var reader = StreamReader(stream)
        guard let body = try await reader.readFrame(maxLength: ContentTransferProtocol.maxControlMessage) else { return }
        let hash = try ContentTransferProtocol.decodeRequest(body)
        // Over capacity: say so instead of queueing, so the requester can try another provider.
        guard serving < configuration.maxConcurrentTransfers else {
            try await stream.write(ContentTransferProtocol.encodeResponse(.busy))
            return
        }
        serving += 1
        defer { serving -= 1 }
        guard let bytes = await source(hash), hash.matches(bytes) else {
            try await stream.write(ContentTransferProtocol.encodeResponse(.notFound))
            return
        }
        guard bytes.count <= configuration.maxBundleSize else {
            try await stream.write(ContentTransferProtocol.encodeResponse(.tooLarge))
            return
        }
        try await stream.write(ContentTransferProtocol.encodeResponse(.ok, size: UInt64(bytes.count)))
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + configuration.chunkSize, bytes.count)
            try await stream.write(Array(bytes[offset..<end]))
            offset = end
        }
    }

    // MARK: fetching

    /// Fetches the bundle named `hash` from `peer` (dialling `addrs` if not connected)
    /// and returns it once verified. Waits while 50 fetches are already running. A size
    /// announced over `maxSize` (default and upper bound: ``Configuration/maxBundleSize``) is
    /// refused before any byte of the body is read.
    public func fetch(_ hash: ContentHash, from peer: PeerID, addrs: [Multiaddr] = [], maxSize: Int? = nil) async throws -> [UInt8] {
        while fetching >= configuration.maxConcurrentTransfers {
            await withCheckedContinuation { fetchWaiters.append($0) }
        }
        fetching += 1
        defer {
            fetching -= 1
            if !fetchWaiters.isEmpty { fetchWaiters.removeFirst().resume() }
        }
        let limit = max(0, min(maxSize ?? configuration.maxBundleSize, configuration.maxBundleSize))
        return try await Self.download(hash, from: peer, addrs: addrs, host: host, limit: limit)
    }

    private static func download(_ hash: ContentHash, from peer: PeerID, addrs: [Multiaddr], host: P2PHost, limit: Int) async throws -> [UInt8] {
        let connection = try await host.connection(to: peer, addresses: addrs)
        let stream = try await connection.openStream(ContentTransferProtocol.protocolID)
        do {
            try await stream.write(ContentTransferProtocol.encodeRequest(hash))
            stream.closeWrite()
            var reader = StreamReader(stream)
            guard let body = try await reader.readFrame(maxLength: ContentTransferProtocol.maxControlMessage) else {
                throw Error.truncated
            }
            let (status, size) = try ContentTransferProtocol.decodeResponse(body)
            switch status {
            case .ok: break
            case .notFound: throw Error.notFound
            case .busy: throw Error.busy
            case .tooLarge: throw Error.tooLarge(size)
            }
            guard size <= UInt64(limit) else { throw Error.tooLarge(size) }
            let bytes: [UInt8]
            do { bytes = try await reader.readExactly(Int(size)) } catch { throw Error.truncated }
            guard hash.matches(bytes) else { throw Error.hashMismatch }
            stream.close()
            return bytes
        } catch {
            stream.reset()
            throw error
        }
    }
}

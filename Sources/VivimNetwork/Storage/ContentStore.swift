import NIOPosix

#if canImport(Glibc)
import Glibc
private let systemRead = Glibc.read
private let systemWrite = Glibc.write
#elseif canImport(Musl)
import Musl
private let systemRead = Musl.read
private let systemWrite = Musl.write
#elseif canImport(Darwin)
import Darwin
private let systemRead = Darwin.read
private let systemWrite = Darwin.write
#endif

/// Bundles on disk, one file per content hash (hex of the multihash) in a
/// directory. Writes are atomic (temporary file, fsync, rename); reads verify
/// the bytes against the hash, so a corrupted file is reported missing. The
/// blocking file calls run on NIO's thread pool, never on an event loop.
public struct ContentStore: Sendable {
    public enum Error: Swift.Error, Equatable { case io(String, errno: Int32), hashMismatch }

    public let directory: String
    private let pool: NIOThreadPool

    public init(directory: String, pool: NIOThreadPool = .singleton) throws {
        self.directory = directory
        self.pool = pool
        if mkdir(directory, 0o700) != 0 && errno != EEXIST { throw Error.io("mkdir \(directory)", errno: errno) }
    }

    func path(_ hash: ContentHash) -> String { directory + "/" + hex(hash.key) }

    /// Stores `bytes` under their own hash (rejecting bytes that do not match `hash`).
    public func write(_ bytes: [UInt8], as hash: ContentHash) async throws {
        guard hash.matches(bytes) else { throw Error.hashMismatch }
        let path = self.path(hash)
        try await pool.runIfActive {
            let tmp = path + ".tmp"
            let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            guard fd >= 0 else { throw Error.io("create \(tmp)", errno: errno) }
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { systemWrite(fd, $0.baseAddress, $0.count) }
                guard n > 0 else { close(fd); unlink(tmp); throw Error.io("write \(tmp)", errno: errno) }
                offset += n
            }
            let synced = fsync(fd)
            close(fd)
            guard synced == 0, rename(tmp, path) == 0 else { unlink(tmp); throw Error.io("commit \(path)", errno: errno) }
        }
    }

    /// The verified bytes of `hash`, or nil when absent or corrupted.
    public func read(_ hash: ContentHash, maxSize: Int = 1 << 30) async -> [UInt8]? {
        let path = self.path(hash)
        let bytes: [UInt8]? = try? await pool.runIfActive {
            var st = stat()
            guard stat(path, &st) == 0, Int(st.st_size) <= maxSize else { return nil }
            let fd = open(path, O_RDONLY)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            var out = [UInt8](repeating: 0, count: Int(st.st_size))
            var offset = 0
            while offset < out.count {
                let n = out[offset...].withUnsafeMutableBytes { systemRead(fd, $0.baseAddress, $0.count) }
                guard n > 0 else { return nil }
                offset += n
            }
            return out
        }
        guard let bytes, hash.matches(bytes) else { return nil }
        return bytes
    }

    public func delete(_ hash: ContentHash) async {
        let path = self.path(hash)
        _ = try? await pool.runIfActive { unlink(path) }
    }
}

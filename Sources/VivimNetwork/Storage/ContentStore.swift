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
/// directory. Writes are atomic (temporary file, fsync, rename, directory fsync); reads verify
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
        let path = self.path(hash), directory = self.directory
        try await pool.runIfActive { try Self.writeAtomically(bytes, to: path, directory: directory) }
    }

    /// The verified bytes of `hash`, or nil when absent or corrupted.
    public func read(_ hash: ContentHash, maxSize: Int = 1 << 30) async -> [UInt8]? {
        let path = self.path(hash)
        let bytes: [UInt8]? = try? await pool.runIfActive { Self.readFile(path, maxSize: maxSize) }
        guard let bytes, hash.matches(bytes) else { return nil }
        return bytes
    }

    public func delete(_ hash: ContentHash) async {
        let path = self.path(hash)
        _ = try? await pool.runIfActive { unlink(path) }
    }

    // MARK: restart

    /// The file holding the storage index (``StorageIndex``), next to the bundles.
    public static let indexName = "storage.index"
    /// An index larger than this is not read (it is rebuilt from the files).
    static let maxIndexSize = 256 << 20
    var indexPath: String { directory + "/" + Self.indexName }

    /// Every bundle file in the directory, read and verified against the hash its name
    /// gives: hash → size. A file whose bytes do not match its name is deleted; leftover
    /// temporary files too. Bounded by `limit` files. Throws when the directory cannot be
    /// read (or the thread pool is gone), never deleting anything then.
    public func verifiedFiles(limit: Int = 1_000_000, maxSize: Int = 1 << 30) async throws -> (files: [ContentHash: Int], removed: Int) {
        let directory = self.directory
        return try await pool.runIfActive {
            guard let dir = opendir(directory) else { throw Error.io("opendir \(directory)", errno: errno) }
            var names: [String] = []
            while names.count < limit, let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(dir)
            var files: [ContentHash: Int] = [:], removed = 0
            for name in names.sorted() {
                let path = directory + "/" + name
                if name.hasSuffix(".tmp") { unlink(path); continue }
                guard let key = Self.unhex(name), let hash = try? ContentHash(multihashBytes: key), hex(hash.key) == name else { continue }
                switch Self.readFile(path, maxSize: maxSize) {
                case .some(let bytes) where hash.matches(bytes):
                    files[hash] = bytes.count
                case .some:
                    unlink(path)  // the bytes are not what the name says
                    removed += 1
                case .none:
                    continue  // unreadable or too large: left alone, not known
                }
            }
            return (files, removed)
        }
    }

    /// Reads a whole file (blocking; thread pool only). A file that ends early gives nil, or
    /// with `acceptShort` the bytes that were there (the index decoder tolerates a torn tail).
    private static func readFile(_ path: String, maxSize: Int, acceptShort: Bool = false) -> [UInt8]? {
        var st = stat()
        guard stat(path, &st) == 0, Int(st.st_size) <= maxSize else { return nil }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out = [UInt8](repeating: 0, count: Int(st.st_size))
        var offset = 0
        while offset < out.count {
            let n = out[offset...].withUnsafeMutableBytes { systemRead(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { return acceptShort ? Array(out.prefix(offset)) : nil }
            offset += n
        }
        return out
    }

    /// The bytes of the index file, nil when absent or over ``maxIndexSize``.
    public func readIndex() async throws -> [UInt8]? {
        let path = indexPath
        return try await pool.runIfActive { Self.readFile(path, maxSize: Self.maxIndexSize, acceptShort: true) }
    }

    /// Replaces the index file atomically: temporary file, fsync, rename, fsync of the directory.
    public func writeIndex(_ bytes: [UInt8]) async throws {
        let path = indexPath, directory = self.directory
        try await pool.runIfActive { try Self.writeAtomically(bytes, to: path, directory: directory) }
    }

    /// Temporary file, fsync, rename over `path`, fsync of `directory` (blocking; thread pool only).
    private static func writeAtomically(_ bytes: [UInt8], to path: String, directory: String) throws {
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
        let dfd = open(directory, O_RDONLY)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }

    /// Lower-case hex to bytes, at most 64 KiB of them: bundle file names, and the signed record
    /// in a revocation notice (`VivimNode.maxNotice`; a signed record is over 128 bytes, which the
    /// former 256-character cap refused, so every gossip revocation notice was dropped).
    static func unhex(_ s: String) -> [UInt8]? { VivimNetwork.unhex(s.utf8) }
}

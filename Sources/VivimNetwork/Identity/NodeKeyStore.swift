#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Persists a node's identity key in a file readable only by its owner (mode 0600),
/// in the libp2p `PrivateKey` protobuf format so other libp2p tools can read it.
public enum NodeKeyStore {
    public enum Error: Swift.Error, Equatable {
        case io(String, errno: Int32)
        case insecurePermissions(mode: UInt32)
        case corrupt
    }

    /// Loads the key at `path`, or creates and stores a fresh one if the file does not exist.
    /// Refuses a key file that is readable or writable by group or others.
    public static func loadOrCreate(at path: String) throws -> PeerKeyPair {
        if let existing = try load(at: path) { return existing }
        let key = PeerKeyPair()
        try store(key, at: path)
        return key
    }

    public static func load(at path: String) throws -> PeerKeyPair? {
        var st = stat()
        guard stat(path, &st) == 0 else {
            if errno == ENOENT { return nil }
            throw Error.io("stat \(path)", errno: errno)
        }
        let mode = UInt32(st.st_mode) & 0o777
        guard mode & 0o077 == 0 else { throw Error.insecurePermissions(mode: mode) }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw Error.io("open \(path)", errno: errno) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0, n < buffer.count else { throw Error.corrupt }
        do {
            return try PeerKeyPair(protobuf: Array(buffer.prefix(n)))
        } catch {
            throw Error.corrupt
        }
    }

    /// Writes the key atomically (temporary file with mode 0600, then rename).
    public static func store(_ key: PeerKeyPair, at path: String) throws {
        let tmp = path + ".tmp"
        unlink(tmp)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw Error.io("create \(tmp)", errno: errno) }
        let bytes = key.protobufEncoded
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == bytes.count, synced == 0 else {
            unlink(tmp)
            throw Error.io("write \(tmp)", errno: errno)
        }
        guard rename(tmp, path) == 0 else { throw Error.io("rename \(tmp)", errno: errno) }
    }
}

import Foundation
import VivimCore

/// The local content store: published bundles on disk, addressed by their content id (hex
/// SHA-256 of the ciphertext), under `<data-dir>/content/<2 hex>/<content id>.bundle`. Writes
/// are atomic (temporary file, fsync, rename, fsync of the directory), so a crash leaves either
/// the whole bundle or nothing. Storing the same id twice stores it once.
public final class BundleStore: Sendable {
    public let root: String

    public init(dataDirectory: String) throws {
        root = (dataDirectory as NSString).appendingPathComponent("content")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    public static func isContentID(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    public func path(for contentId: String) throws(VivimError) -> String {
        guard Self.isContentID(contentId) else { throw .validation("contentId must be 64 lower-case hex characters", field: "contentId") }
        let directory = (root as NSString).appendingPathComponent(String(contentId.prefix(2)))
        return (directory as NSString).appendingPathComponent(contentId + ".bundle")
    }

    public func contains(_ contentId: String) -> Bool {
        guard let path = try? path(for: contentId) else { return false }
        return FileManager.default.fileExists(atPath: path)
    }

    /// Stores the bundle's bytes durably; a no-op if the id is already stored.
    public func put(_ contentId: String, bytes: Data) throws {
        let path = try path(for: contentId)
        if FileManager.default.fileExists(atPath: path) { return }
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let temporary = path + ".tmp-\(UUID().uuidString)"
        let descriptor = open(temporary, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw VivimError(.internalError, "cannot write to the content store") }
        var failed = false
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written <= 0 { failed = true; break }
                offset += written
            }
        }
        if fsync(descriptor) != 0 { failed = true }
        close(descriptor)
        guard !failed, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw VivimError(.internalError, "cannot write to the content store")
        }
        let directoryDescriptor = open(directory, O_RDONLY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }

    public func get(_ contentId: String) throws -> Data? {
        let path = try path(for: contentId)
        return FileManager.default.contents(atPath: path)
    }

    /// Removes the bundle; true if it was there.
    @discardableResult
    public func delete(_ contentId: String) throws -> Bool {
        let path = try path(for: contentId)
        return unlink(path) == 0
    }

    /// Every stored content id (for repair and garbage collection).
    public func allContentIDs() -> [String] {
        let manager = FileManager.default
        guard let shards = try? manager.contentsOfDirectory(atPath: root) else { return [] }
        return shards.flatMap { shard in
            ((try? manager.contentsOfDirectory(atPath: (root as NSString).appendingPathComponent(shard))) ?? [])
                .filter { $0.hasSuffix(".bundle") }.map { String($0.dropLast(7)) }
        }
    }
}

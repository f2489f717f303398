import Foundation

/// A recorded character-by-character editing session, replayed by tests and
/// `CRDTBenchmark` (the "automerge-paper" trace; see shared/data/README.md).
/// This file and `CRDTBenchmark` are the module's only I/O, kept out of the CRDT core.
public struct EditingTrace: Sendable {
    /// One edit: insert `text` at `position`, or delete `deleteCount` elements there.
    public struct Edit: Sendable, Hashable {
        public var position: Int
        public var deleteCount: Int
        public var text: String
    }

    public enum LoadError: Error, CustomStringConvertible {
        case gzipFailed(status: Int32)
        case malformed(String)

        public var description: String {
            switch self {
            case .gzipFailed(let status): "gzip -dc exited with status \(status)"
            case .malformed(let why): "malformed editing trace: \(why)"
            }
        }
    }

    public var edits: [Edit]
    public var finalText: String

    public init(edits: [Edit], finalText: String) {
        self.edits = edits
        self.finalText = finalText
    }

    /// Loads a trace: a JSON object `{ "edits": [[pos, del, "text"?], …],
    /// "finalText": "…" }`, gzip-compressed if the path ends in `.gz`
    /// (decompressed with `/bin/gzip -dc`, to need no dependency).
    public static func load(path: String) throws -> EditingTrace {
        let data: Data
        if path.hasSuffix(".gz") {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/gzip")
            process.arguments = ["-dc", path]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw LoadError.gzipFailed(status: process.terminationStatus) }
        } else {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        }
        return try parse(data)
    }

    /// Parses the uncompressed JSON form.
    public static func parse(_ data: Data) throws -> EditingTrace {
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let rawEdits = object["edits"] as? [[Any]],
              let finalText = object["finalText"] as? String
        else { throw LoadError.malformed("expected {edits, finalText}") }
        var edits: [Edit] = []
        edits.reserveCapacity(rawEdits.count)
        for raw in rawEdits {
            guard raw.count >= 2, let position = (raw[0] as? NSNumber)?.intValue, let deleteCount = (raw[1] as? NSNumber)?.intValue
            else { throw LoadError.malformed("edit \(edits.count)") }
            edits.append(Edit(position: position, deleteCount: deleteCount, text: raw.count > 2 ? (raw[2] as? String ?? "") : ""))
        }
        return EditingTrace(edits: edits, finalText: finalText)
    }

    /// Applies every edit to a fresh sequence as replica `replica`; the
    /// benchmark's `b4-trace-replay`.
    public func replay(replica: ReplicaID = ReplicaID(1)) -> RGASequence<Unicode.Scalar> {
        var sequence = RGASequence<Unicode.Scalar>()
        var counter: UInt64 = 0
        for edit in edits {
            if edit.deleteCount > 0 {
                sequence.remove(at: edit.position, count: edit.deleteCount)
            }
            if !edit.text.isEmpty {
                let scalars = edit.text.unicodeScalars
                sequence.insert(contentsOf: scalars, at: edit.position, replica: replica, firstCounter: counter)
                counter += UInt64(scalars.count)
            }
        }
        return sequence
    }
}

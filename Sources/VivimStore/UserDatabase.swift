import Foundation
import GRDB
import GRDBSQLite
import VivimCore

/// One user's own SQLite database: their conversations, messages, ACUs and everything
/// else that is theirs alone. No query here ever touches another user's file.
public final class UserDatabase: Sendable {
    let queue: DatabaseQueue
    public let path: String

    init(path: String, synchronous: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        // WAL and durability are set here rather than with GRDB's `journalMode = .wal`,
        // which writes to the file on every open and resets `synchronous` to NORMAL.
        configuration.prepareDatabase { db in
            guard try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL") == "wal" else {
                throw DatabaseError(message: "could not enable WAL")
            }
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            // Keep the -wal file when the last connection closes, so an LRU eviction and
            // the next open do not delete and recreate it (SQLITE_FCNTL_PERSIST_WAL).
            var persist: CInt = 1
            let code = withUnsafeMutablePointer(to: &persist) {
                sqlite3_file_control(db.sqliteConnection, nil, SQLITE_FCNTL_PERSIST_WAL, $0)
            }
            guard code == SQLITE_OK else { throw DatabaseError(resultCode: ResultCode(rawValue: code)) }
        }
        self.path = path
        queue = try DatabaseQueue(path: path, configuration: configuration)
        // Most opens find the schema current. `user_version` is read from the file header,
        // without parsing the schema, so the check is nearly free; migrate only when behind.
        if try queue.inDatabase({ try Int.fetchOne($0, sql: "PRAGMA user_version") }) != UserDatabaseSchema.version {
            try UserDatabaseSchema.migrator.migrate(queue)
            try queue.writeWithoutTransaction { try $0.execute(sql: "PRAGMA user_version = \(UserDatabaseSchema.version)") }
        }
    }

    /// The connection's `PRAGMA synchronous` (2 = FULL, 1 = NORMAL).
    public func synchronousSetting() async throws -> Int {
        try await snapshotRead { try Int.fetchOne($0, sql: "PRAGMA synchronous") ?? -1 }
    }

    func close() throws { try queue.close() }

    /// A read inside one deferred transaction (a consistent snapshot). GRDB's
    /// `DatabaseQueue.read` marks the connection read-only with `PRAGMA query_only`, and
    /// changing a flag pragma expires every prepared statement, so cached statements would
    /// be compiled again on every read; this keeps them.
    func snapshotRead<T: Sendable>(_ body: @escaping @Sendable (GRDB.Database) throws -> T) async throws -> T {
        try await queue.writeWithoutTransaction { db in
            var result: T?
            try db.inTransaction(.deferred) {
                result = try body(db)
                return .commit
            }
            return result!
        }
    }

    /// The schema version this file is at (the last applied migration's name).
    public func schemaVersion() async throws -> String? {
        try await snapshotRead { db in try UserDatabaseSchema.migrator.appliedMigrations(db).last }
    }

    /// `PRAGMA integrity_check` — "ok" for a healthy file.
    public func integrityCheck() async throws -> String {
        try await snapshotRead { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "" }
    }

    // MARK: Conversations

    /// Stores an imported conversation with its messages and derived ACUs in one transaction.
    public func importConversation(_ input: ConversationInput, at now: Date) async throws -> ImportedConversation {
        let (acus, counts) = ACUExtractor.extract(input.messages)
        let conversationID = ConversationID()
        let messageIDs = input.messages.map { _ in MessageID() }
        let created = input.createdAt ?? now
        let tags = try StoreJSON.encode(input.tags)
        let countsCopy = counts
        try await queue.write { db in
            try db.execute(sql: """
                INSERT INTO conversations (id, provider, source_url, title, model, state, created_at, updated_at, imported_at,
                  message_count, word_count, character_count, code_block_count, image_count, tool_call_count, tags, metadata)
                VALUES (?, ?, ?, ?, ?, 'ACTIVE', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '{}')
                """, arguments: [conversationID.rawValue, input.provider, input.sourceURL, input.title, input.model, created, now, now,
                                 countsCopy.messageCount, countsCopy.wordCount, countsCopy.characterCount, countsCopy.codeBlockCount,
                                 countsCopy.imageCount, countsCopy.toolCallCount, tags])
            let insertMessage = try db.makeStatement(sql: """
                INSERT INTO messages (id, conversation_id, idx, role, author, parts, text, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for (index, message) in input.messages.enumerated() {
                let text = message.parts.map(\.plainText).filter { !$0.isEmpty }.joined(separator: "\n\n")
                try insertMessage.execute(arguments: [
                    messageIDs[index].rawValue, conversationID.rawValue, index, message.role.rawValue, message.author,
                    try MessageRecord.storedParts(message.parts), text, message.createdAt,
                ])
            }
            let insertACU = try db.makeStatement(sql: """
                INSERT INTO acus (id, conversation_id, message_id, idx, type, category, content, language) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for acu in acus {
                try insertACU.execute(arguments: [
                    ACUID().rawValue, conversationID.rawValue, messageIDs[acu.messageIndex].rawValue, acu.index,
                    acu.type.rawValue, acu.type.category, acu.content, acu.language,
                ])
            }
        }
        return ImportedConversation(id: conversationID, messageIDs: messageIDs, acuCount: acus.count, counts: counts)
    }

    public func conversations(page: PageRequest) async throws -> Page<ConversationRecord> {
        try await snapshotRead { db in
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM conversations") ?? 0
            let rows = try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM conversations ORDER BY imported_at DESC, id LIMIT ? OFFSET ?"),
                                        arguments: [page.pageSize, page.offset])
            return Page(items: try rows.map(ConversationRecord.init(row:)), totalItems: total, request: page)
        }
    }

    public func conversation(_ id: ConversationID) async throws -> ConversationRecord? {
        try await snapshotRead { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM conversations WHERE id = ?"), arguments: [id.rawValue]).map(ConversationRecord.init(row:))
        }
    }

    /// The conversation and its messages from one consistent snapshot, in one database hop.
    public func conversationWithMessages(_ id: ConversationID) async throws -> (ConversationRecord, [MessageRecord])? {
        try await snapshotRead { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM conversations WHERE id = ?"), arguments: [id.rawValue]) else {
                return nil
            }
            let messages = try Row.fetchAll(db.cachedStatement(sql: MessageRecord.selectByConversation), arguments: [id.rawValue])
            return (try ConversationRecord(row: row), try MessageRecord.records(messages))
        }
    }

    public func messages(of id: ConversationID) async throws -> [MessageRecord] {
        try await snapshotRead { db in
            try MessageRecord.records(Row.fetchAll(db.cachedStatement(sql: MessageRecord.selectByConversation), arguments: [id.rawValue]))
        }
    }

    public func acus(of id: ConversationID, page: PageRequest) async throws -> Page<ACURecord> {
        try await snapshotRead { db in
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM acus WHERE conversation_id = ?", arguments: [id.rawValue]) ?? 0
            let rows = try Row.fetchAll(db, sql: """
                SELECT a.* FROM acus a JOIN messages m ON m.id = a.message_id
                WHERE a.conversation_id = ? ORDER BY m.idx, a.idx LIMIT ? OFFSET ?
                """, arguments: [id.rawValue, page.pageSize, page.offset])
            return Page(items: try rows.map(ACURecord.init(row:)), totalItems: total, request: page)
        }
    }

    public func deleteConversation(_ id: ConversationID) async throws -> Bool {
        try await queue.write { db in
            try db.execute(sql: "DELETE FROM conversations WHERE id = ?", arguments: [id.rawValue])
            return db.changesCount == 1
        }
    }

    /// Full-text search over the user's messages and titles (FTS5, bm25 ranking).
    /// The query is treated as plain words, never as FTS syntax.
    public func search(_ text: String, page: PageRequest) async throws -> Page<SearchHit> {
        let match = FullTextQuery.match(for: text)
        guard !match.isEmpty else { return Page(items: [], totalItems: 0, request: page) }
        return try await snapshotRead { db in
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH ?", arguments: [match]) ?? 0
            let rows = try Row.fetchAll(db, sql: """
                SELECT m.conversation_id, m.id AS message_id, m.idx, c.title,
                       snippet(messages_fts, 0, '[', ']', '…', 16) AS snippet, bm25(messages_fts) AS score
                FROM messages_fts JOIN messages m ON m.rowid = messages_fts.rowid JOIN conversations c ON c.id = m.conversation_id
                WHERE messages_fts MATCH ? ORDER BY score, m.conversation_id, m.idx LIMIT ? OFFSET ?
                """, arguments: [match, page.pageSize, page.offset])
            let hits = rows.map { row in
                SearchHit(conversationID: ConversationID(trusted: row["conversation_id"]), messageID: MessageID(trusted: row["message_id"]),
                          messageIndex: row["idx"], title: row["title"], snippet: row["snippet"], score: -(row["score"] as Double))
            }
            return Page(items: hits, totalItems: total, request: page)
        }
    }
}

public struct ImportedConversation: Sendable, Equatable {
    public var id: ConversationID
    public var messageIDs: [MessageID]
    public var acuCount: Int
    public var counts: ConversationCounts
}

public struct ConversationRecord: Sendable, Equatable {
    public var id: ConversationID
    public var provider: String
    public var sourceURL: String?
    public var title: String
    public var model: String?
    public var state: String
    public var createdAt: Date
    public var updatedAt: Date
    public var importedAt: Date
    public var counts: ConversationCounts
    public var tags: [String]
    public var isShared: Bool
    public var shareCount: Int
    public var viewCount: Int
    public var uniqueViewers: Int
    public var lastSharedAt: Date?
    public var locked: Bool

    init(row: Row) throws {
        id = ConversationID(trusted: row["id"])
        provider = row["provider"]
        sourceURL = row["source_url"]
        title = row["title"]
        model = row["model"]
        state = row["state"]
        createdAt = row["created_at"]
        updatedAt = row["updated_at"]
        importedAt = row["imported_at"]
        var counts = ConversationCounts()
        counts.messageCount = row["message_count"]
        counts.wordCount = row["word_count"]
        counts.characterCount = row["character_count"]
        counts.codeBlockCount = row["code_block_count"]
        counts.imageCount = row["image_count"]
        counts.toolCallCount = row["tool_call_count"]
        self.counts = counts
        tags = (try? StoreJSON.decode([String].self, row["tags"])) ?? []
        isShared = row["is_shared"]
        shareCount = row["share_count"]
        viewCount = row["view_count"]
        uniqueViewers = row["unique_viewers"]
        lastSharedAt = row["last_shared_at"]
        locked = row["privacy_locked"]
    }
}

public struct MessageRecord: Sendable, Equatable {
    public var id: MessageID
    public var index: Int
    public var role: MessageRole
    public var author: String?
    public var parts: [ContentPart]
    public var createdAt: Date?

    init(row: Row, parts: [ContentPart]) {
        id = MessageID(trusted: row["id"])
        index = row["idx"]
        role = MessageRole(rawValue: row["role"]) ?? .user
        author = row["author"]
        self.parts = parts
        createdAt = row["created_at"]
    }

    static let selectByConversation = "SELECT id, idx, role, author, parts, text, created_at FROM messages WHERE conversation_id = ? ORDER BY idx"

    /// The `parts` column: the JSON array of parts, except that a message made of one
    /// text part (the common case) stores `[]`, its text being the `text` column already.
    static func storedParts(_ parts: [ContentPart]) throws -> String {
        if parts.count == 1, case .text = parts[0] { return "[]" }
        return try StoreJSON.encode(parts)
    }

    /// Rebuilds the rows' parts. Rich messages are decoded in one JSON pass: a decoder
    /// call has a fixed cost that dwarfs a small message.
    static func records(_ rows: [Row]) throws -> [MessageRecord] {
        var json: [UInt8] = [UInt8(ascii: "[")]
        var rich = 0
        for row in rows {
            let stored: String = row["parts"]
            guard stored != "[]" else { continue }
            if rich > 0 { json.append(UInt8(ascii: ",")) }
            json.append(contentsOf: stored.utf8)
            rich += 1
        }
        json.append(UInt8(ascii: "]"))
        var decoded = rich == 0 ? [] : try JSONDecoder().decode([[ContentPart]].self, from: Data(json))[...]
        return rows.map { row in
            let stored: String = row["parts"]
            let parts = stored == "[]" ? [ContentPart.text(row["text"])] : decoded.removeFirst()
            return MessageRecord(row: row, parts: parts)
        }
    }
}

public struct ACURecord: Sendable, Equatable {
    public var id: ACUID
    public var conversationID: ConversationID
    public var messageID: MessageID
    public var index: Int
    public var type: ACUType
    public var category: String
    public var content: String
    public var language: String?

    init(row: Row) throws {
        id = ACUID(trusted: row["id"])
        conversationID = ConversationID(trusted: row["conversation_id"])
        messageID = MessageID(trusted: row["message_id"])
        index = row["idx"]
        type = ACUType(rawValue: row["type"]) ?? .paragraph
        category = row["category"]
        content = row["content"]
        language = row["language"]
    }
}

public struct SearchHit: Sendable, Equatable {
    public var conversationID: ConversationID
    public var messageID: MessageID
    public var messageIndex: Int
    public var title: String
    public var snippet: String
    public var score: Double
}

/// Turns free text into a safe FTS5 query: each word becomes a quoted phrase (quotes
/// doubled), so operators and syntax in user input are matched literally.
enum FullTextQuery {
    static func match(for text: String) -> String {
        text.split(whereSeparator: { $0.isWhitespace })
            .prefix(32)
            .map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
            .joined(separator: " ")
    }
}

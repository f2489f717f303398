import Foundation
import GRDB
import VivimCore

/// What the publishing pipeline and content access read and write in the owner's own file:
/// ownership, the lock on LOCAL content, share and view counts (SPEC §2.2, §5.1, §7.6, §9).
extension UserDatabase {
    /// The ids among `ids` that are conversations in this file.
    public func ownedConversations(_ ids: [String]) async throws -> Set<String> {
        try await owned(ids, table: "conversations")
    }

    /// The ids among `ids` that are ACUs in this file.
    public func ownedACUs(_ ids: [String]) async throws -> Set<String> {
        try await owned(ids, table: "acus")
    }

    private func owned(_ ids: [String], table: String) async throws -> Set<String> {
        guard !ids.isEmpty else { return [] }
        let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ", ")
        return try await snapshotRead { db in
            Set(try String.fetchAll(db, sql: "SELECT id FROM \(table) WHERE id IN (\(placeholders))", arguments: StatementArguments(ids)))
        }
    }

    /// Conversations the owner locked as LOCAL, among `ids`.
    public func lockedConversations(_ ids: [String]) async throws -> Set<String> {
        guard !ids.isEmpty else { return [] }
        let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ", ")
        return try await snapshotRead { db in
            Set(try String.fetchAll(db, sql: "SELECT id FROM conversations WHERE privacy_locked AND id IN (\(placeholders))",
                                    arguments: StatementArguments(ids)))
        }
    }

    public func setLocked(_ id: ConversationID, _ locked: Bool) async throws -> Bool {
        try await queue.write { db in
            try db.execute(sql: "UPDATE conversations SET privacy_locked = ? WHERE id = ?", arguments: [locked, id.rawValue])
            return db.changesCount == 1
        }
    }

    /// The ACUs of one conversation with their message index, for PARTIAL shares.
    public func allACUs(of id: ConversationID) async throws -> [ACURecord] {
        try await snapshotRead { db in
            try Row.fetchAll(db, sql: """
                SELECT a.* FROM acus a JOIN messages m ON m.id = a.message_id WHERE a.conversation_id = ? ORDER BY m.idx, a.idx
                """, arguments: [id.rawValue]).map(ACURecord.init(row:))
        }
    }

    /// Records that `intentID` published `contentIDs`; idempotent, so a resumed publish counts once.
    public func recordShare(intentID: String, contentIDs: [String], publishedContentId: String, at date: Date) async throws {
        try await queue.write { db in
            for contentID in contentIDs {
                try db.execute(sql: """
                    INSERT INTO shares (intent_id, content_id, published_content_id, shared_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (intent_id) DO NOTHING
                    """, arguments: [intentID + "|" + contentID, contentID, publishedContentId, date])
                guard db.changesCount == 1 else { continue }
                try db.execute(sql: """
                    UPDATE conversations SET is_shared = 1, sharing_intent_id = ?, share_count = share_count + 1, last_shared_at = ?
                    WHERE id = ?
                    """, arguments: [intentID, date, contentID])
            }
        }
    }

    /// Counts a view of the owner's content by `viewer` (a stable pseudonym, or nil for anonymous).
    public func recordView(contentIDs: [String], viewer: String?, at date: Date) async throws {
        try await queue.write { db in
            for contentID in contentIDs {
                var newViewer = false
                if let viewer {
                    try db.execute(sql: "INSERT OR IGNORE INTO content_viewers (content_id, viewer, first_viewed_at) VALUES (?, ?, ?)",
                                   arguments: [contentID, viewer, date])
                    newViewer = db.changesCount == 1
                }
                try db.execute(sql: """
                    INSERT INTO content_stats (content_id, view_count, unique_viewers, last_viewed_at) VALUES (?, 1, ?, ?)
                    ON CONFLICT (content_id) DO UPDATE SET view_count = view_count + 1,
                      unique_viewers = unique_viewers + excluded.unique_viewers, last_viewed_at = excluded.last_viewed_at
                    """, arguments: [contentID, newViewer ? 1 : 0, date])
                try db.execute(sql: "UPDATE conversations SET view_count = view_count + 1, unique_viewers = unique_viewers + ? WHERE id = ?",
                               arguments: [newViewer ? 1 : 0, contentID])
            }
        }
    }

    public struct ContentStats: Sendable, Equatable {
        public var viewCount: Int
        public var uniqueViewers: Int
    }

    public func contentStats(_ contentID: String) async throws -> ContentStats {
        try await snapshotRead { db in
            let row = try Row.fetchOne(db, sql: "SELECT view_count, unique_viewers FROM content_stats WHERE content_id = ?", arguments: [contentID])
            return ContentStats(viewCount: row?["view_count"] ?? 0, uniqueViewers: row?["unique_viewers"] ?? 0)
        }
    }
}

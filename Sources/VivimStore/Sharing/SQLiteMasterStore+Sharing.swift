import Foundation
import GRDB
import VivimCore

extension SQLiteMasterStore {
    // MARK: Intents

    public func insertIntent(_ intent: SharingIntent, recipients: [AudienceMember], events: [AnalyticsEvent]) async throws {
        let columns = try IntentColumns(intent)
        try await write { db in
            try Self.insertIntentRow(intent, columns, db)
            for member in recipients { try Self.upsertResponse(member, db) }
            try Self.insertEvents(events, db)
        }
    }

    public func intent(_ id: IntentID) async throws -> SharingIntent? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT document FROM sharing_intents WHERE id = ?", arguments: [id.rawValue]).map(Self.intent)
        }
    }

    public func updateIntent(_ intent: SharingIntent, expectedVersion: Int, events: [AnalyticsEvent]) async throws -> Bool {
        let columns = try IntentColumns(intent)
        return try await write { db in try Self.updateIntent(intent, columns, expectedVersion: expectedVersion, events: events, db) }
    }

    static func updateIntent(_ intent: SharingIntent, _ columns: IntentColumns, expectedVersion: Int, events: [AnalyticsEvent],
                             _ db: GRDB.Database) throws -> Bool {
        try db.execute(sql: """
            UPDATE sharing_intents SET version = ?, actor_did = ?, intent_type = ?, content_type = ?, audience_type = ?, status = ?,
              publish_at = ?, expires_at = ?, max_views = ?, has_condition = ?, document = ?, updated_at = ?, published_at = ?
            WHERE id = ? AND version = ?
            """, arguments: [intent.version, intent.actorDid.description, intent.spec.intentType.rawValue, columns.contentType,
                             columns.audienceType, intent.status.rawValue, columns.publishAt, columns.expiresAt, columns.maxViews,
                             columns.hasCondition, columns.document, intent.updatedAt, intent.publishedAt,
                             intent.id.rawValue, expectedVersion])
        guard db.changesCount == 1 else { return false }
        let views = try Int.fetchOne(db, sql: "SELECT views_count FROM sharing_intents WHERE id = ?", arguments: [intent.id.rawValue]) ?? 0
        try db.execute(sql: "DELETE FROM intent_targets WHERE intent_id = ?", arguments: [intent.id.rawValue])
        try db.execute(sql: "DELETE FROM share_permissions WHERE intent_id = ?", arguments: [intent.id.rawValue])
        try writeTargets(intent, columns, viewCount: views, db)
        // Listed users who are no longer listed are REMOVED; new ones start PENDING; the rest keep their answer.
        let listed = Set(intent.spec.audience.userDIDs.map(\.description)).sorted()
        let placeholders = Array(repeating: "?", count: listed.count).joined(separator: ", ")
        try db.execute(sql: """
            UPDATE audience_members SET status = 'REMOVED', updated_at = ?
            WHERE intent_id = ? AND kind = 'USER' AND status <> 'REMOVED'\(listed.isEmpty ? "" : " AND member_did NOT IN (\(placeholders))")
            """, arguments: StatementArguments([intent.updatedAt.databaseValue, intent.id.rawValue.databaseValue] + listed.map(\.databaseValue)))
        for did in listed {
            try db.execute(sql: """
                INSERT INTO audience_members (intent_id, member_did, kind, status, updated_at) VALUES (?, ?, 'USER', 'PENDING', ?)
                ON CONFLICT (intent_id, member_did) DO UPDATE SET
                  status = CASE WHEN audience_members.status = 'REMOVED' THEN 'PENDING' ELSE audience_members.status END,
                  updated_at = CASE WHEN audience_members.status = 'REMOVED' THEN excluded.updated_at ELSE audience_members.updated_at END,
                  kind = 'USER'
                """, arguments: [intent.id.rawValue, did, intent.updatedAt])
        }
        try insertEvents(events, db)
        return true
    }

    /// The intent's row and its targets (recipients and events are the caller's).
    static func insertIntentRow(_ intent: SharingIntent, _ columns: IntentColumns, _ db: GRDB.Database) throws {
        try db.cachedStatement(sql: """
            INSERT INTO sharing_intents (id, version, owner_did, actor_did, intent_type, content_type, audience_type, status,
              publish_at, expires_at, max_views, has_condition, document, created_at, updated_at, published_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [intent.id.rawValue, intent.version, intent.ownerDid.description, intent.actorDid.description,
                                     intent.spec.intentType.rawValue, columns.contentType, columns.audienceType, intent.status.rawValue,
                                     columns.publishAt, columns.expiresAt, columns.maxViews, columns.hasCondition, columns.document,
                                     intent.createdAt, intent.updatedAt, intent.publishedAt])
        try writeTargets(intent, columns, viewCount: 0, db)
    }

    static func writeTargets(_ intent: SharingIntent, _ columns: IntentColumns, viewCount: Int, _ db: GRDB.Database) throws {
        for target in columns.targets {
            try db.execute(sql: "INSERT OR IGNORE INTO intent_targets (intent_id, kind, target) VALUES (?, ?, ?)",
                           arguments: [intent.id.rawValue, target.kind, target.target])
        }
        for row in SharePermissionRow.rows(for: intent, viewCount: viewCount) {
            let p = row.permissions
            try db.execute(sql: """
                INSERT OR REPLACE INTO share_permissions (intent_id, target_type, target_id, can_view, can_copy, can_annotate,
                  can_remix, can_share, can_download, max_views, views_count, expires_at, status)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [intent.id.rawValue, row.targetType, row.targetID, p.view, p.copy, p.annotate, p.remix, p.share,
                                 p.download, row.maxViews, viewCount, row.expiresAt, row.status])
        }
    }

    public func intents(_ query: IntentQuery) async throws -> Page<SharingIntent> {
        var conditions = ["(i.owner_did = ? OR i.actor_did = ? OR EXISTS (SELECT 1 FROM intent_targets t WHERE t.intent_id = i.id AND t.kind = 'CO_OWNER' AND t.target = ?))"]
        var arguments: [any DatabaseValueConvertible] = [query.did.description, query.did.description, query.did.description]
        if let status = query.status { conditions.append("i.status = ?"); arguments.append(status.rawValue) }
        if let type = query.contentType { conditions.append("i.content_type = ?"); arguments.append(type.rawValue) }
        if let type = query.audienceType { conditions.append("i.audience_type = ?"); arguments.append(type.rawValue) }
        if let from = query.createdFrom { conditions.append("i.created_at >= ?"); arguments.append(from) }
        if let until = query.createdUntil { conditions.append("i.created_at <= ?"); arguments.append(until) }
        let filter = conditions.joined(separator: " AND ")
        let order = "\(query.sortBy == .createdAt ? "i.created_at" : "i.published_at") \(query.descending ? "DESC" : "ASC"), i.id"
        let page = query.page
        let filterArguments = StatementArguments(arguments.map { $0.databaseValue })
        return try await pool.read { db in
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sharing_intents i WHERE \(filter)",
                                         arguments: filterArguments) ?? 0
            let rows = try Row.fetchAll(db, sql: "SELECT i.document FROM sharing_intents i WHERE \(filter) ORDER BY \(order) LIMIT ? OFFSET ?",
                                        arguments: filterArguments + [page.pageSize, page.offset])
            return Page(items: try rows.map(Self.intent), totalItems: total, request: page)
        }
    }

    public func activeIntents(covering contentID: ContentID) async throws -> [SharingIntent] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT i.document FROM intent_targets t JOIN sharing_intents i ON i.id = t.intent_id
                WHERE t.kind = 'CONTENT' AND t.target = ? AND i.status = 'ACTIVE' ORDER BY i.id
                """, arguments: [contentID.rawValue]).map(Self.intent)
        }
    }

    public func receivedIntents(did: DID, circleIDs: [CircleID], page: PageRequest) async throws -> Page<SharingIntent> {
        let placeholders = Array(repeating: "?", count: circleIDs.count).joined(separator: ", ")
        let circleClause = circleIDs.isEmpty ? "" : " OR (t.kind = 'CIRCLE' AND t.target IN (\(placeholders)))"
        let filter = """
            i.status = 'ACTIVE' AND i.actor_did <> ? AND i.owner_did <> ? AND EXISTS (SELECT 1 FROM intent_targets t
              WHERE t.intent_id = i.id AND ((t.kind = 'USER' AND t.target = ?)\(circleClause)))
            """
        let filterArguments = StatementArguments([did.description, did.description, did.description] + circleIDs.map(\.rawValue))
        return try await pool.read { db in
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sharing_intents i WHERE \(filter)",
                                         arguments: filterArguments) ?? 0
            let rows = try Row.fetchAll(db, sql: """
                SELECT i.document FROM sharing_intents i WHERE \(filter) ORDER BY i.published_at DESC, i.id LIMIT ? OFFSET ?
                """, arguments: filterArguments + [page.pageSize, page.offset])
            return Page(items: try rows.map(Self.intent), totalItems: total, request: page)
        }
    }

    public func schedulerCandidates(now: Date, limit: Int) async throws -> [SharingIntent] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT document FROM sharing_intents WHERE status = 'VALIDATED' AND publish_at IS NOT NULL AND publish_at <= ?
                UNION ALL
                SELECT document FROM sharing_intents WHERE status = 'ACTIVE' AND (
                  (expires_at IS NOT NULL AND expires_at <= ?) OR (max_views IS NOT NULL AND views_count >= max_views) OR has_condition)
                LIMIT ?
                """, arguments: [now, now, limit]).map(Self.intent)
        }
    }

    public func nextScheduledInstant(after now: Date) async throws -> Date? {
        try await pool.read { db in
            let publish = try Date.fetchOne(db, sql: "SELECT MIN(publish_at) FROM sharing_intents WHERE status = 'VALIDATED' AND publish_at > ?", arguments: [now])
            let expiry = try Date.fetchOne(db, sql: "SELECT MIN(expires_at) FROM sharing_intents WHERE status = 'ACTIVE' AND expires_at > ?", arguments: [now])
            return [publish, expiry].compactMap { $0 }.min()
        }
    }

    public func expireIntents(_ batch: [IntentExpiry]) async throws -> [ExpiredIntent] {
        let prepared = try batch.map { ($0, try IntentColumns($0.intent)) }
        return try await write { db in
            var expired: [ExpiredIntent] = []
            for (item, columns) in prepared {
                // A status move leaves targets and recipients as they are: update the row and the
                // share_permissions projection only (cached statements; 500 intents per transaction).
                let id = item.intent.id.rawValue
                try db.cachedStatement(sql: """
                    UPDATE sharing_intents SET version = ?, status = ?, expires_at = ?, document = ?, updated_at = ?
                    WHERE id = ? AND version = ?
                    """).execute(arguments: [item.intent.version, item.intent.status.rawValue, columns.expiresAt, columns.document,
                                             item.intent.updatedAt, id, item.expectedVersion])
                guard db.changesCount == 1 else { continue }
                try db.cachedStatement(sql: """
                    UPDATE share_permissions SET status = CASE WHEN status = 'EXHAUSTED' THEN status
                      WHEN max_views IS NOT NULL AND views_count >= max_views THEN 'EXHAUSTED' ELSE 'EXPIRED' END, expires_at = ?
                    WHERE intent_id = ?
                    """).execute(arguments: [columns.expiresAt, id])
                try Self.insertEvents(item.events, db)
                try db.cachedStatement(sql: "UPDATE share_links SET is_active = 0 WHERE intent_id = ? AND is_active").execute(arguments: [id])
                let contentId = try String.fetchOne(db.cachedStatement(sql: "SELECT content_id FROM content_records WHERE live_intent = ?"),
                                                    arguments: [id])
                if let contentId {
                    try db.cachedStatement(sql: "UPDATE content_records SET status = 'EXPIRED', updated_at = ? WHERE content_id = ?")
                        .execute(arguments: [item.intent.updatedAt, contentId])
                }
                expired.append(ExpiredIntent(intentID: item.intent.id, contentId: contentId))
            }
            return expired
        }
    }

    /// Many new intents in one transaction (imports and benchmarks).
    public func insertIntents(_ intents: [SharingIntent]) async throws {
        let prepared = try intents.map { ($0, try IntentColumns($0)) }
        try await write { db in
            for (intent, columns) in prepared {
                try Self.insertIntentRow(intent, columns, db)
            }
        }
    }

    public func recordView(of intentID: IntentID) async throws -> Int {
        try await write { db in
            guard let count = try Int.fetchOne(db, sql: "UPDATE sharing_intents SET views_count = views_count + 1 WHERE id = ? RETURNING views_count",
                                               arguments: [intentID.rawValue])
            else { throw VivimError.notFound("intent not found") }
            try db.execute(sql: """
                UPDATE share_permissions SET views_count = ?,
                  status = CASE WHEN max_views IS NOT NULL AND ? >= max_views AND status = 'ACTIVE' THEN 'EXHAUSTED' ELSE status END
                WHERE intent_id = ?
                """, arguments: [count, count, intentID.rawValue])
            return count
        }
    }

    public func viewCounts(of intentIDs: [IntentID]) async throws -> [IntentID: Int] {
        guard !intentIDs.isEmpty else { return [:] }
        let placeholders = Array(repeating: "?", count: intentIDs.count).joined(separator: ", ")
        return try await pool.read { db in
            var counts: [IntentID: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, views_count FROM sharing_intents WHERE id IN (\(placeholders))",
                                        arguments: StatementArguments(intentIDs.map(\.rawValue))) {
                counts[IntentID(trusted: row["id"])] = row["views_count"]
            }
            return counts
        }
    }

    // MARK: Audience

    public func setResponse(_ member: AudienceMember) async throws {
        try await write { db in try Self.upsertResponse(member, db) }
    }

    static func upsertResponse(_ member: AudienceMember, _ db: GRDB.Database) throws {
        try db.execute(sql: """
            INSERT INTO audience_members (intent_id, member_did, kind, status, updated_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (intent_id, member_did) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at
            """, arguments: [member.intentID.rawValue, member.did.description, member.kind.rawValue, member.response.rawValue, member.updatedAt])
    }

    public func responses(of did: DID, to intentIDs: [IntentID]) async throws -> [IntentID: RecipientResponse] {
        guard !intentIDs.isEmpty else { return [:] }
        let placeholders = Array(repeating: "?", count: intentIDs.count).joined(separator: ", ")
        return try await pool.read { db in
            var answers: [IntentID: RecipientResponse] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT intent_id, status FROM audience_members WHERE member_did = ? AND intent_id IN (\(placeholders))",
                                        arguments: StatementArguments([did.description] + intentIDs.map(\.rawValue))) {
                answers[IntentID(trusted: row["intent_id"])] = RecipientResponse(rawValue: row["status"]) ?? .pending
            }
            return answers
        }
    }

    public func audience(of intentID: IntentID) async throws -> [AudienceMember] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM audience_members WHERE intent_id = ? ORDER BY member_did", arguments: [intentID.rawValue])
                .map { row in
                    AudienceMember(intentID: intentID, did: try DID(parsing: row["member_did"]),
                                   kind: AudienceMember.Kind(rawValue: row["kind"]) ?? .user,
                                   response: RecipientResponse(rawValue: row["status"]) ?? .pending, updatedAt: row["updated_at"])
                }
        }
    }

    // MARK: Links

    public func insertLink(_ link: StoredShareLink, events: [AnalyticsEvent]) async throws {
        try await write { db in
            let l = link.link
            try db.execute(sql: """
                INSERT INTO share_links (id, code, intent_id, creator_did, max_uses, uses_count, expires_at, is_active, password_hash,
                  zero_knowledge, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [l.id.rawValue, l.code.rawValue, l.intentID.rawValue, l.creatorDid.description, l.maxUses, l.usesCount,
                                 l.expiresAt, l.isActive, link.passwordHash, link.zeroKnowledge, l.createdAt])
            try Self.insertEvents(events, db)
        }
    }

    public func link(code: ShareLinkCode) async throws -> StoredShareLink? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM share_links WHERE code = ?", arguments: [code.rawValue]).map(Self.link)
        }
    }

    public func link(id: ShareLinkID) async throws -> StoredShareLink? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM share_links WHERE id = ?", arguments: [id.rawValue]).map(Self.link)
        }
    }

    public func links(createdBy did: DID, page: PageRequest) async throws -> Page<StoredShareLink> {
        try await pool.read { db in
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM share_links WHERE creator_did = ?", arguments: [did.description]) ?? 0
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM share_links WHERE creator_did = ? ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
                                        arguments: [did.description, page.pageSize, page.offset])
            return Page(items: try rows.map(Self.link), totalItems: total, request: page)
        }
    }

    public func useLink(code: ShareLinkCode, now: Date) async throws -> LinkUseOutcome {
        try await write { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT l.*, i.status AS intent_status FROM share_links l JOIN sharing_intents i ON i.id = l.intent_id WHERE l.code = ?
                """, arguments: [code.rawValue]) else { return .notFound }
            let stored = try Self.link(row)
            let status = IntentStatus(rawValue: row["intent_status"]) ?? .archived
            let state = stored.link.state(at: now, intentStatus: status)
            guard state == .active else { return .refused(state) }
            try db.execute(sql: """
                UPDATE share_links SET uses_count = uses_count + 1
                WHERE id = ? AND is_active AND (max_uses IS NULL OR uses_count < max_uses)
                """, arguments: [stored.link.id.rawValue])
            guard db.changesCount == 1 else { return .refused(.exhausted) }
            var used = stored
            used.link.usesCount += 1
            return .used(used)
        }
    }

    public func deactivateLink(_ id: ShareLinkID) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "UPDATE share_links SET is_active = 0 WHERE id = ? AND is_active", arguments: [id.rawValue])
            return db.changesCount == 1
        }
    }

    public func deactivateLinks(of intentID: IntentID) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE share_links SET is_active = 0 WHERE intent_id = ?", arguments: [intentID.rawValue])
        }
    }

    // MARK: Content records

    public func commitPublish(_ commit: PublishCommit) async throws -> Bool {
        let columns = try IntentColumns(commit.intent)
        let record = commit.record
        let sources = try StoreJSON.encode(record.sourceIDs)
        let tags = try StoreJSON.encode(record.tags)
        let providers = try StoreJSON.encode(record.providers)
        return try await write { db in
            guard try Self.updateIntent(commit.intent, columns, expectedVersion: commit.expectedVersion, events: commit.events, db) else {
                return false
            }
            try db.execute(sql: """
                INSERT INTO content_records (content_id, intent_id, owner_did, content_type, source_ids, audience_type, size, content_hash,
                  bundle_size, title, tags, public_content_key, providers, replica_count, status, live_intent, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [record.contentId, record.intentID.rawValue, record.ownerDid.description, record.contentType.rawValue,
                                 sources, record.audienceType.rawValue, record.size, record.contentHash, record.bundleSize, record.title,
                                 tags, record.publicContentKey, providers, record.replicaCount, record.status.rawValue,
                                 record.status == .rolledBack ? nil : record.intentID.rawValue, record.createdAt, record.updatedAt])
            return true
        }
    }

    public func replaceRecord(_ old: String, with record: ContentRecord) async throws -> Bool {
        let sources = try StoreJSON.encode(record.sourceIDs)
        let tags = try StoreJSON.encode(record.tags)
        let providers = try StoreJSON.encode(record.providers)
        return try await write { db in
            try db.execute(sql: """
                UPDATE content_records SET status = 'ARCHIVED', live_intent = NULL, updated_at = ?
                WHERE content_id = ? AND live_intent = ?
                """, arguments: [record.createdAt, old, record.intentID.rawValue])
            guard db.changesCount == 1 else { return false }
            try db.execute(sql: """
                INSERT INTO content_records (content_id, intent_id, owner_did, content_type, source_ids, audience_type, size, content_hash,
                  bundle_size, title, tags, public_content_key, providers, replica_count, status, live_intent, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [record.contentId, record.intentID.rawValue, record.ownerDid.description, record.contentType.rawValue,
                                 sources, record.audienceType.rawValue, record.size, record.contentHash, record.bundleSize, record.title,
                                 tags, record.publicContentKey, providers, record.replicaCount, record.status.rawValue,
                                 record.intentID.rawValue, record.createdAt, record.updatedAt])
            return true
        }
    }

    public func contentRecord(contentId: String) async throws -> ContentRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM content_records WHERE content_id = ?", arguments: [contentId]).map(Self.record)
        }
    }

    public func contentRecord(intentID: IntentID) async throws -> ContentRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM content_records WHERE live_intent = ?", arguments: [intentID.rawValue]).map(Self.record)
        }
    }

    public func updateContentRecord(contentId: String, status: ContentRecordStatus, providers: [String]?, replicaCount: Int?,
                                    at date: Date) async throws {
        let providerJSON = try providers.map { try StoreJSON.encode($0) }
        try await write { db in
            try db.execute(sql: """
                UPDATE content_records SET status = ?, providers = COALESCE(?, providers), replica_count = COALESCE(?, replica_count),
                  live_intent = CASE WHEN ? = 'ROLLED_BACK' THEN NULL ELSE live_intent END, updated_at = ?
                WHERE content_id = ?
                """, arguments: [status.rawValue, providerJSON, replicaCount, status.rawValue, date, contentId])
        }
    }

    public func contentRecords(_ query: ContentQuery) async throws -> Page<ContentRecord> {
        var conditions = ["status = 'ACTIVE'"]
        var arguments: [any DatabaseValueConvertible] = []
        if let owner = query.ownerDid { conditions.append("owner_did = ?"); arguments.append(owner.description) }
        if let type = query.contentType { conditions.append("content_type = ?"); arguments.append(type.rawValue) }
        if let audience = query.audienceType { conditions.append("audience_type = ?"); arguments.append(audience.rawValue) }
        if let text = query.text, !text.isEmpty {
            conditions.append("(title LIKE ? ESCAPE '\\' OR tags LIKE ? ESCAPE '\\')")
            let pattern = "%" + Self.likeEscaped(text) + "%"
            arguments += [pattern, pattern]
        }
        for tag in query.tags {
            conditions.append("tags LIKE ? ESCAPE '\\'")
            arguments.append("%" + Self.likeEscaped(try StoreJSON.encode(tag)) + "%")
        }
        if let ids = query.intentIDs {
            guard !ids.isEmpty else { return Page(items: [], totalItems: 0, request: query.page) }
            conditions.append("intent_id IN (\(Array(repeating: "?", count: ids.count).joined(separator: ", ")))")
            arguments += ids.map(\.rawValue)
        }
        if let visibility = query.visibleTo {
            var alternatives: [String] = []
            if visibility.includePublic { alternatives.append("audience_type = 'PUBLIC'") }
            if !visibility.intentIDs.isEmpty {
                alternatives.append("intent_id IN (\(Array(repeating: "?", count: visibility.intentIDs.count).joined(separator: ", ")))")
                arguments += visibility.intentIDs.map(\.rawValue)
            }
            conditions.append(alternatives.isEmpty ? "0" : "(" + alternatives.joined(separator: " OR ") + ")")
        }
        let filter = conditions.joined(separator: " AND ")
        let page = query.page
        let filterArguments = StatementArguments(arguments.map { $0.databaseValue })
        return try await pool.read { db in
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM content_records WHERE \(filter)", arguments: filterArguments) ?? 0
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM content_records WHERE \(filter) ORDER BY created_at DESC, content_id LIMIT ? OFFSET ?",
                                        arguments: filterArguments + [page.pageSize, page.offset])
            return Page(items: try rows.map(Self.record), totalItems: total, request: page)
        }
    }

    static func likeEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
    }

    public func logAccess(_ access: ContentAccess) async throws {
        try await write { db in
            try db.execute(sql: """
                INSERT INTO content_access_log (content_id, intent_id, accessor_did, access_type, success, error_code, at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [access.contentId, access.intentID?.rawValue, access.accessorDid?.description, access.type.rawValue,
                                 access.success, access.errorCode, access.at])
        }
    }

    public func accessLog(contentId: String, limit: Int) async throws -> [ContentAccess] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM content_access_log WHERE content_id = ? ORDER BY id DESC LIMIT ?",
                             arguments: [contentId, limit]).map { row in
                ContentAccess(contentId: row["content_id"], intentID: (row["intent_id"] as String?).map(IntentID.init(trusted:)),
                              accessorDid: try (row["accessor_did"] as String?).map { try DID(parsing: $0) },
                              type: AccessType(rawValue: row["access_type"]) ?? .view, success: row["success"],
                              errorCode: row["error_code"], at: row["at"])
            }
        }
    }

    // MARK: Analytics events

    public func appendEvents(_ events: [AnalyticsEvent]) async throws {
        guard !events.isEmpty else { return }
        try await write { db in try Self.insertEvents(events, db) }
    }

    static func insertEvents(_ events: [AnalyticsEvent], _ db: GRDB.Database) throws {
        for event in events {
            try db.execute(sql: """
                INSERT INTO analytics_events (event_type, actor_did, subject, properties, dedup_key, at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (dedup_key) DO NOTHING
                """, arguments: [event.type.rawValue, event.actorDid?.description, event.subject, try StoreJSON.encode(event.properties),
                                 event.dedupKey, event.at])
        }
    }

    public func events(type: AnalyticsEventType?, subject: String?, limit: Int) async throws -> [AnalyticsEvent] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM analytics_events WHERE (? IS NULL OR event_type = ?) AND (? IS NULL OR subject = ?) ORDER BY id LIMIT ?
                """, arguments: [type?.rawValue, type?.rawValue, subject, subject, limit]).map { row in
                AnalyticsEvent(type: AnalyticsEventType(rawValue: row["event_type"]) ?? .shareCreated,
                               actorDid: try (row["actor_did"] as String?).map { try DID(parsing: $0) }, subject: row["subject"],
                               properties: try StoreJSON.decode([String: String].self, row["properties"]), at: row["at"],
                               dedupKey: row["dedup_key"])
            }
        }
    }

    // MARK: Outbox

    public func enqueuePublish(_ job: PublishJob) async throws -> (job: PublishJob, created: Bool) {
        try await write { db in
            try db.execute(sql: """
                INSERT INTO publish_outbox (intent_id, intent_version, stage, content_id, attempts, next_attempt_at, last_error, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (intent_id) DO NOTHING
                """, arguments: [job.intentID.rawValue, job.intentVersion, job.stage.rawValue, job.contentId, job.attempts, job.nextAttemptAt,
                                 job.lastError, job.createdAt, job.updatedAt])
            let created = db.changesCount == 1
            let row = try Row.fetchOne(db, sql: "SELECT * FROM publish_outbox WHERE intent_id = ?", arguments: [job.intentID.rawValue])!
            return (Self.job(row), created)
        }
    }

    public func publishJob(_ intentID: IntentID) async throws -> PublishJob? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM publish_outbox WHERE intent_id = ?", arguments: [intentID.rawValue]).map(Self.job)
        }
    }

    public func updatePublishJob(_ job: PublishJob) async throws {
        try await write { db in
            try db.execute(sql: """
                UPDATE publish_outbox SET intent_version = ?, stage = ?, content_id = ?, attempts = ?, next_attempt_at = ?, last_error = ?,
                  updated_at = ? WHERE intent_id = ?
                """, arguments: [job.intentVersion, job.stage.rawValue, job.contentId, job.attempts, job.nextAttemptAt, job.lastError,
                                 job.updatedAt, job.intentID.rawValue])
        }
    }

    public func deletePublishJob(_ intentID: IntentID) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM publish_outbox WHERE intent_id = ?", arguments: [intentID.rawValue])
        }
    }

    public func pendingPublishJobs(dueBy date: Date, limit: Int) async throws -> [PublishJob] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM publish_outbox WHERE stage <> 'FAILED' AND next_attempt_at <= ? ORDER BY next_attempt_at, intent_id LIMIT ?
                """, arguments: [date, limit]).map(Self.job)
        }
    }

    // MARK: Leases

    public func acquireLease(_ name: String, holder: String, until: Date, now: Date) async throws -> Bool {
        try await write { db in
            try db.execute(sql: """
                INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                WHERE leases.holder = excluded.holder OR leases.expires_at <= ?
                """, arguments: [name, holder, until, now])
            return db.changesCount == 1
        }
    }

    // MARK: Epoch keys

    public func insertEpochKey(_ key: StoredEpochKey, capsules: [StoredEpochCapsule]) async throws {
        try await write { db in
            try db.execute(sql: "INSERT INTO circle_epoch_keys (circle_id, epoch, sealed_key, created_at) VALUES (?, ?, ?, ?)",
                           arguments: [key.circleID.rawValue, key.epoch, Data(key.sealedKey), key.createdAt])
            for capsule in capsules { try Self.upsertCapsule(capsule, db) }
        }
    }

    public func currentEpochKey(of circleID: CircleID) async throws -> StoredEpochKey? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM circle_epoch_keys WHERE circle_id = ? ORDER BY epoch DESC LIMIT 1",
                             arguments: [circleID.rawValue]).map(Self.epochKey)
        }
    }

    public func epochKey(of circleID: CircleID, epoch: Int) async throws -> StoredEpochKey? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM circle_epoch_keys WHERE circle_id = ? AND epoch = ?",
                             arguments: [circleID.rawValue, epoch]).map(Self.epochKey)
        }
    }

    public func upsertEpochCapsules(_ capsules: [StoredEpochCapsule]) async throws {
        guard !capsules.isEmpty else { return }
        try await write { db in for capsule in capsules { try Self.upsertCapsule(capsule, db) } }
    }

    static func upsertCapsule(_ capsule: StoredEpochCapsule, _ db: GRDB.Database) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO circle_epoch_capsules (circle_id, epoch, member_did, capsule) VALUES (?, ?, ?, ?)",
                       arguments: [capsule.circleID.rawValue, capsule.epoch, capsule.memberDid.description, capsule.capsuleJSON])
    }

    public func epochCapsules(of did: DID, circleID: CircleID) async throws -> [StoredEpochCapsule] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM circle_epoch_capsules WHERE circle_id = ? AND member_did = ? ORDER BY epoch",
                             arguments: [circleID.rawValue, did.description]).map { row in
                StoredEpochCapsule(circleID: circleID, epoch: row["epoch"], memberDid: did, capsuleJSON: row["capsule"])
            }
        }
    }

    // MARK: Publishing keys

    public func publishingKey(of did: DID) async throws -> PublishingKeyRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM publishing_keys WHERE did = ?", arguments: [did.description]).map(Self.publishingKey)
        }
    }

    public func storePublishingKey(_ record: PublishingKeyRecord) async throws -> PublishingKeyRecord {
        try await write { db in
            try db.execute(sql: """
                INSERT INTO publishing_keys (did, sealed_seed, public_key, delegation, created_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (did) DO NOTHING
                """, arguments: [record.did.description, Data(record.sealedSeed), Data(record.publicKey), record.delegationJSON, record.createdAt])
            return try Self.publishingKey(Row.fetchOne(db, sql: "SELECT * FROM publishing_keys WHERE did = ?", arguments: [record.did.description])!)
        }
    }

    public func setDelegation(of did: DID, json: String) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE publishing_keys SET delegation = ? WHERE did = ?", arguments: [json, did.description])
            guard db.changesCount == 1 else { throw VivimError.notFound("no publishing key for this user") }
        }
    }

    // MARK: Row mapping

    static func intent(_ row: Row) throws -> SharingIntent {
        try StoreJSON.decode(SharingIntent.self, row["document"])
    }

    static func link(_ row: Row) throws -> StoredShareLink {
        let link = ShareLink(id: ShareLinkID(trusted: row["id"]), code: try ShareLinkCode(parsing: row["code"]),
                             intentID: IntentID(trusted: row["intent_id"]), creatorDid: try DID(parsing: row["creator_did"]),
                             maxUses: row["max_uses"], usesCount: row["uses_count"], expiresAt: row["expires_at"],
                             isActive: row["is_active"], requiresPassword: (row["password_hash"] as String?) != nil,
                             createdAt: row["created_at"])
        return StoredShareLink(link: link, passwordHash: row["password_hash"], zeroKnowledge: row["zero_knowledge"])
    }

    static func record(_ row: Row) throws -> ContentRecord {
        ContentRecord(contentId: row["content_id"], intentID: IntentID(trusted: row["intent_id"]), ownerDid: try DID(parsing: row["owner_did"]),
                      contentType: ContentType(rawValue: row["content_type"]) ?? .conversation,
                      sourceIDs: try StoreJSON.decode([ContentID].self, row["source_ids"]),
                      audienceType: AudienceType(rawValue: row["audience_type"]) ?? .users, size: row["size"],
                      contentHash: row["content_hash"], bundleSize: row["bundle_size"], title: row["title"],
                      tags: try StoreJSON.decode([String].self, row["tags"]), publicContentKey: row["public_content_key"],
                      providers: try StoreJSON.decode([String].self, row["providers"]), replicaCount: row["replica_count"],
                      status: ContentRecordStatus(rawValue: row["status"]) ?? .corrupted, createdAt: row["created_at"],
                      updatedAt: row["updated_at"])
    }

    static func job(_ row: Row) -> PublishJob {
        PublishJob(intentID: IntentID(trusted: row["intent_id"]), intentVersion: row["intent_version"],
                   stage: PublishStage(rawValue: row["stage"]) ?? .failed, contentId: row["content_id"], attempts: row["attempts"],
                   nextAttemptAt: row["next_attempt_at"], lastError: row["last_error"], createdAt: row["created_at"],
                   updatedAt: row["updated_at"])
    }

    static func epochKey(_ row: Row) -> StoredEpochKey {
        StoredEpochKey(circleID: CircleID(trusted: row["circle_id"]), epoch: row["epoch"], sealedKey: Array(row["sealed_key"] as Data),
                       createdAt: row["created_at"])
    }

    static func publishingKey(_ row: Row) throws -> PublishingKeyRecord {
        PublishingKeyRecord(did: try DID(parsing: row["did"]), sealedSeed: Array(row["sealed_seed"] as Data),
                            publicKey: Array(row["public_key"] as Data), delegationJSON: row["delegation"], createdAt: row["created_at"])
    }
}

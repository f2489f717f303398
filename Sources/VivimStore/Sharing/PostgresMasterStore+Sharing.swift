import Foundation
import Logging
import PostgresNIO
import VivimCore

/// The sharing and publishing half of the master store on PostgreSQL. Same semantics as
/// `SQLiteMasterStore+Sharing.swift`; where SQLite gets atomicity from its single writer, this
/// side uses row locks: guarded `UPDATE … RETURNING`, `ON CONFLICT`, and transactions.
/// Text is ordered with `COLLATE "C"` (byte order, as SQLite does) and NULLs sort as the
/// smallest value, so both stores page identically.
extension PostgresMasterStore {
    // MARK: Intents

    public func insertIntent(_ intent: SharingIntent, recipients: [AudienceMember], events: [AnalyticsEvent]) async throws {
        let columns = try IntentColumns(intent)
        try await mapped {
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query("""
                    INSERT INTO sharing_intents (id, version, owner_did, actor_did, intent_type, content_type, audience_type, status,
                      publish_at, expires_at, max_views, has_condition, document, created_at, updated_at, published_at)
                    VALUES (\(intent.id.rawValue), \(intent.version), \(intent.ownerDid.description), \(intent.actorDid.description),
                            \(intent.spec.intentType.rawValue), \(columns.contentType), \(columns.audienceType), \(intent.status.rawValue),
                            \(columns.publishAt), \(columns.expiresAt), \(columns.maxViews), \(columns.hasCondition), \(columns.document),
                            \(intent.createdAt), \(intent.updatedAt), \(intent.publishedAt))
                    """, logger: self.logger)
                try await Self.writeTargets(intent, columns, viewCount: 0, connection, self.logger)
                for member in recipients { try await connection.query(Self.upsertResponseQuery(member), logger: self.logger) }
                try await Self.insertEvents(events, connection, self.logger)
            }
        }
    }

    public func intent(_ id: IntentID) async throws -> SharingIntent? {
        try await fetch("SELECT document FROM sharing_intents WHERE id = \(id.rawValue)", Self.intent).first
    }

    public func updateIntent(_ intent: SharingIntent, expectedVersion: Int, events: [AnalyticsEvent]) async throws -> Bool {
        let columns = try IntentColumns(intent)
        return try await mapped {
            try await client.withTransaction(logger: logger) { connection in
                try await Self.updateIntent(intent, columns, expectedVersion: expectedVersion, events: events, connection, self.logger)
            }
        }
    }

    /// The compare-and-set: the guarded `UPDATE` takes the row lock, so of two writers at the
    /// same version the second re-reads the new version and matches nothing.
    static func updateIntent(_ intent: SharingIntent, _ columns: IntentColumns, expectedVersion: Int, events: [AnalyticsEvent],
                             _ connection: PostgresConnection, _ logger: Logger) async throws -> Bool {
        let updated = try await connection.query("""
            UPDATE sharing_intents SET version = \(intent.version), actor_did = \(intent.actorDid.description),
              intent_type = \(intent.spec.intentType.rawValue), content_type = \(columns.contentType),
              audience_type = \(columns.audienceType), status = \(intent.status.rawValue), publish_at = \(columns.publishAt),
              expires_at = \(columns.expiresAt), max_views = \(columns.maxViews), has_condition = \(columns.hasCondition),
              document = \(columns.document), updated_at = \(intent.updatedAt), published_at = \(intent.publishedAt)
            WHERE id = \(intent.id.rawValue) AND version = \(expectedVersion)
            RETURNING views_count
            """, logger: logger)
        var views: Int?
        for try await count in updated.decode(Int.self) { views = count }
        guard let views else { return false }
        try await connection.query("DELETE FROM intent_targets WHERE intent_id = \(intent.id.rawValue)", logger: logger)
        try await connection.query("DELETE FROM share_permissions WHERE intent_id = \(intent.id.rawValue)", logger: logger)
        try await writeTargets(intent, columns, viewCount: views, connection, logger)
        // Listed users who are no longer listed are REMOVED; new ones start PENDING; the rest keep their answer.
        let listed = Array(Set(intent.spec.audience.userDIDs.map(\.description))).sorted()
        try await connection.query("""
            UPDATE audience_members SET status = 'REMOVED', updated_at = \(intent.updatedAt)
            WHERE intent_id = \(intent.id.rawValue) AND kind = 'USER' AND status <> 'REMOVED' AND member_did <> ALL(\(listed)::text[])
            """, logger: logger)
        if !listed.isEmpty {
            try await connection.query("""
                INSERT INTO audience_members (intent_id, member_did, kind, status, updated_at)
                SELECT \(intent.id.rawValue), did, 'USER', 'PENDING', \(intent.updatedAt)::timestamptz FROM unnest(\(listed)::text[]) AS d(did)
                ON CONFLICT (intent_id, member_did) DO UPDATE SET
                  status = CASE WHEN audience_members.status = 'REMOVED' THEN 'PENDING' ELSE audience_members.status END,
                  updated_at = CASE WHEN audience_members.status = 'REMOVED' THEN EXCLUDED.updated_at ELSE audience_members.updated_at END,
                  kind = 'USER'
                """, logger: logger)
        }
        try await insertEvents(events, connection, logger)
        return true
    }

    static func writeTargets(_ intent: SharingIntent, _ columns: IntentColumns, viewCount: Int, _ connection: PostgresConnection,
                             _ logger: Logger) async throws {
        if !columns.targets.isEmpty {
            try await connection.query("""
                INSERT INTO intent_targets (intent_id, kind, target)
                SELECT \(intent.id.rawValue), kind, target FROM unnest(\(columns.targets.map(\.kind))::text[], \(columns.targets.map(\.target))::text[])
                  AS t(kind, target)
                ON CONFLICT DO NOTHING
                """, logger: logger)
        }
        // Every row of one intent carries the same grants; only the target differs.
        var seen = Set<[String]>()
        let rows = SharePermissionRow.rows(for: intent, viewCount: viewCount).filter { seen.insert([$0.targetType, $0.targetID]).inserted }
        guard let first = rows.first else { return }
        let p = first.permissions
        try await connection.query("""
            INSERT INTO share_permissions (intent_id, target_type, target_id, can_view, can_copy, can_annotate, can_remix, can_share,
              can_download, max_views, views_count, expires_at, status)
            SELECT \(intent.id.rawValue), target_type, target_id, \(p.view), \(p.copy), \(p.annotate), \(p.remix), \(p.share), \(p.download),
                   \(first.maxViews)::bigint, \(viewCount)::bigint, \(first.expiresAt)::timestamptz, \(first.status)
            FROM unnest(\(rows.map(\.targetType))::text[], \(rows.map(\.targetID))::text[]) AS t(target_type, target_id)
            """, logger: logger)
    }

    public func intents(_ query: IntentQuery) async throws -> Page<SharingIntent> {
        var filter = BoundSQL()
        let did = filter.bind(query.did.description)
        var conditions = ["""
            (i.owner_did = \(did) OR i.actor_did = \(did) OR EXISTS (SELECT 1 FROM intent_targets t
              WHERE t.intent_id = i.id AND t.kind = 'CO_OWNER' AND t.target = \(did)))
            """]
        if let status = query.status { conditions.append("i.status = \(filter.bind(status.rawValue))") }
        if let type = query.contentType { conditions.append("i.content_type = \(filter.bind(type.rawValue))") }
        if let type = query.audienceType { conditions.append("i.audience_type = \(filter.bind(type.rawValue))") }
        if let from = query.createdFrom { conditions.append("i.created_at >= \(filter.bind(from))") }
        if let until = query.createdUntil { conditions.append("i.created_at <= \(filter.bind(until))") }
        filter.append(conditions.joined(separator: " AND "))
        let column = query.sortBy == .createdAt ? "i.created_at" : "i.published_at"
        let order = "\(column) \(query.descending ? "DESC NULLS LAST" : "ASC NULLS FIRST"), i.id COLLATE \"C\""
        return try await page(query.page, count: "SELECT COUNT(*) FROM sharing_intents i WHERE", items: "SELECT i.document FROM sharing_intents i WHERE",
                              filter: filter, order: order, Self.intent)
    }

    public func activeIntents(covering contentID: ContentID) async throws -> [SharingIntent] {
        try await fetch("""
            SELECT i.document FROM intent_targets t JOIN sharing_intents i ON i.id = t.intent_id
            WHERE t.kind = 'CONTENT' AND t.target = \(contentID.rawValue) AND i.status = 'ACTIVE' ORDER BY i.id COLLATE "C"
            """, Self.intent)
    }

    public func receivedIntents(did: DID, circleIDs: [CircleID], page: PageRequest) async throws -> Page<SharingIntent> {
        var filter = BoundSQL()
        let me = filter.bind(did.description)
        let circles = filter.bind(circleIDs.map(\.rawValue))
        filter.append("""
            i.status = 'ACTIVE' AND i.actor_did <> \(me) AND i.owner_did <> \(me) AND EXISTS (SELECT 1 FROM intent_targets t
              WHERE t.intent_id = i.id AND ((t.kind = 'USER' AND t.target = \(me)) OR (t.kind = 'CIRCLE' AND t.target = ANY(\(circles)::text[]))))
            """)
        return try await self.page(page, count: "SELECT COUNT(*) FROM sharing_intents i WHERE", items: "SELECT i.document FROM sharing_intents i WHERE",
                                   filter: filter, order: "i.published_at DESC NULLS LAST, i.id COLLATE \"C\"", Self.intent)
    }

    public func schedulerCandidates(now: Date, limit: Int) async throws -> [SharingIntent] {
        try await fetch("""
            SELECT document FROM sharing_intents WHERE status = 'VALIDATED' AND publish_at IS NOT NULL AND publish_at <= \(now)
            UNION ALL
            SELECT document FROM sharing_intents WHERE status = 'ACTIVE' AND (
              (expires_at IS NOT NULL AND expires_at <= \(now)) OR (max_views IS NOT NULL AND views_count >= max_views) OR has_condition)
            LIMIT \(limit)
            """, Self.intent)
    }

    public func nextScheduledInstant(after now: Date) async throws -> Date? {
        let rows = try await client.query("""
            SELECT (SELECT MIN(publish_at) FROM sharing_intents WHERE status = 'VALIDATED' AND publish_at > \(now)),
                   (SELECT MIN(expires_at) FROM sharing_intents WHERE status = 'ACTIVE' AND expires_at > \(now))
            """, logger: logger)
        for try await (publish, expiry) in rows.decode((Date?, Date?).self) { return [publish, expiry].compactMap { $0 }.min() }
        return nil
    }

    public func recordView(of intentID: IntentID) async throws -> Int {
        try await mapped {
            try await client.withTransaction(logger: logger) { connection in
                // The row lock on the intent serializes concurrent views.
                var count: Int?
                for try await views in try await connection.query("""
                    UPDATE sharing_intents SET views_count = views_count + 1 WHERE id = \(intentID.rawValue) RETURNING views_count
                    """, logger: self.logger).decode(Int.self) { count = views }
                guard let count else { throw VivimError.notFound("intent not found") }
                try await connection.query("""
                    UPDATE share_permissions SET views_count = \(count),
                      status = CASE WHEN max_views IS NOT NULL AND \(count) >= max_views AND status = 'ACTIVE' THEN 'EXHAUSTED' ELSE status END
                    WHERE intent_id = \(intentID.rawValue)
                    """, logger: self.logger)
                return count
            }
        }
    }

    public func viewCounts(of intentIDs: [IntentID]) async throws -> [IntentID: Int] {
        guard !intentIDs.isEmpty else { return [:] }
        let pairs = try await fetch("""
            SELECT id, views_count FROM sharing_intents WHERE id = ANY(\(intentIDs.map(\.rawValue))::text[])
            """) { row in (IntentID(trusted: try row["id"]), try row["views_count"] as Int) }
        return Dictionary(pairs, uniquingKeysWith: { first, _ in first })
    }

    // MARK: Audience

    public func setResponse(_ member: AudienceMember) async throws {
        try await mapped { _ = try await client.query(Self.upsertResponseQuery(member), logger: logger) }
    }

    static func upsertResponseQuery(_ member: AudienceMember) -> PostgresQuery {
        """
        INSERT INTO audience_members (intent_id, member_did, kind, status, updated_at)
        VALUES (\(member.intentID.rawValue), \(member.did.description), \(member.kind.rawValue), \(member.response.rawValue), \(member.updatedAt))
        ON CONFLICT (intent_id, member_did) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at
        """
    }

    public func responses(of did: DID, to intentIDs: [IntentID]) async throws -> [IntentID: RecipientResponse] {
        guard !intentIDs.isEmpty else { return [:] }
        let pairs = try await fetch("""
            SELECT intent_id, status FROM audience_members
            WHERE member_did = \(did.description) AND intent_id = ANY(\(intentIDs.map(\.rawValue))::text[])
            """) { row in (IntentID(trusted: try row["intent_id"]), RecipientResponse(rawValue: try row["status"]) ?? .pending) }
        return Dictionary(pairs, uniquingKeysWith: { first, _ in first })
    }

    public func audience(of intentID: IntentID) async throws -> [AudienceMember] {
        try await fetch("""
            SELECT member_did, kind, status, updated_at FROM audience_members WHERE intent_id = \(intentID.rawValue)
            ORDER BY member_did COLLATE "C"
            """) { row in
            AudienceMember(intentID: intentID, did: try DID(parsing: try row["member_did"]),
                           kind: AudienceMember.Kind(rawValue: try row["kind"]) ?? .user,
                           response: RecipientResponse(rawValue: try row["status"]) ?? .pending, updatedAt: try row["updated_at"])
        }
    }

    // MARK: Links

    public func insertLink(_ link: StoredShareLink, events: [AnalyticsEvent]) async throws {
        let l = link.link
        try await mapped {
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query("""
                    INSERT INTO share_links (id, code, intent_id, creator_did, max_uses, uses_count, expires_at, is_active, password_hash,
                      zero_knowledge, created_at)
                    VALUES (\(l.id.rawValue), \(l.code.rawValue), \(l.intentID.rawValue), \(l.creatorDid.description), \(l.maxUses),
                            \(l.usesCount), \(l.expiresAt), \(l.isActive), \(link.passwordHash), \(link.zeroKnowledge), \(l.createdAt))
                    """, logger: self.logger)
                try await Self.insertEvents(events, connection, self.logger)
            }
        }
    }

    public func link(code: ShareLinkCode) async throws -> StoredShareLink? {
        try await fetch("SELECT * FROM share_links WHERE code = \(code.rawValue)", Self.link).first
    }

    public func link(id: ShareLinkID) async throws -> StoredShareLink? {
        try await fetch("SELECT * FROM share_links WHERE id = \(id.rawValue)", Self.link).first
    }

    public func links(createdBy did: DID, page: PageRequest) async throws -> Page<StoredShareLink> {
        var filter = BoundSQL()
        let creator = filter.bind(did.description)
        filter.append("creator_did = \(creator)")
        return try await self.page(page, count: "SELECT COUNT(*) FROM share_links WHERE", items: "SELECT * FROM share_links WHERE",
                                   filter: filter, order: "created_at DESC, id COLLATE \"C\"", Self.link)
    }

    public func useLink(code: ShareLinkCode, now: Date) async throws -> LinkUseOutcome {
        // One guarded statement: concurrent uses queue on the link's row lock and re-check the
        // counter, so a `maxUses: 1` link is used exactly once.
        let used = try await fetch("""
            UPDATE share_links l SET uses_count = l.uses_count + 1
            FROM sharing_intents i
            WHERE l.code = \(code.rawValue) AND i.id = l.intent_id AND i.status = 'ACTIVE' AND l.is_active
              AND (l.expires_at IS NULL OR l.expires_at > \(now)) AND (l.max_uses IS NULL OR l.uses_count < l.max_uses)
            RETURNING l.*
            """, Self.link)
        if let link = used.first { return .used(link) }
        // Refused: say why, as the link's state reads now.
        let refused = try await fetch("""
            SELECT l.*, i.status AS intent_status FROM share_links l JOIN sharing_intents i ON i.id = l.intent_id WHERE l.code = \(code.rawValue)
            """) { row in (try Self.link(row), IntentStatus(rawValue: try row["intent_status"]) ?? .archived) }
        guard let current = refused.first else { return .notFound }
        let state = current.0.link.state(at: now, intentStatus: current.1)
        return .refused(state == .active ? .exhausted : state)
    }

    public func deactivateLink(_ id: ShareLinkID) async throws -> Bool {
        try await returnsRow("UPDATE share_links SET is_active = FALSE WHERE id = \(id.rawValue) AND is_active RETURNING 1")
    }

    public func deactivateLinks(of intentID: IntentID) async throws {
        try await client.query("UPDATE share_links SET is_active = FALSE WHERE intent_id = \(intentID.rawValue)", logger: logger)
    }

    // MARK: Content records

    public func commitPublish(_ commit: PublishCommit) async throws -> Bool {
        let columns = try IntentColumns(commit.intent)
        let record = commit.record
        let sources = try StoreJSON.encode(record.sourceIDs)
        let tags = try StoreJSON.encode(record.tags)
        let providers = try StoreJSON.encode(record.providers)
        let liveIntent = record.status == .rolledBack ? nil : record.intentID.rawValue
        return try await mapped {
            try await client.withTransaction(logger: logger) { connection in
                guard try await Self.updateIntent(commit.intent, columns, expectedVersion: commit.expectedVersion, events: commit.events,
                                                  connection, self.logger)
                else { return false }
                // A second live record of the intent violates live_intent's uniqueness and rolls the whole commit back.
                try await connection.query("""
                    INSERT INTO content_records (content_id, intent_id, owner_did, content_type, source_ids, audience_type, size, content_hash,
                      bundle_size, title, tags, public_content_key, providers, replica_count, status, live_intent, created_at, updated_at)
                    VALUES (\(record.contentId), \(record.intentID.rawValue), \(record.ownerDid.description), \(record.contentType.rawValue),
                            \(sources), \(record.audienceType.rawValue), \(record.size), \(record.contentHash), \(record.bundleSize),
                            \(record.title), \(tags), \(record.publicContentKey), \(providers), \(record.replicaCount),
                            \(record.status.rawValue), \(liveIntent), \(record.createdAt), \(record.updatedAt))
                    """, logger: self.logger)
                return true
            }
        }
    }

    public func replaceRecord(_ old: String, with record: ContentRecord) async throws -> Bool {
        let sources = try StoreJSON.encode(record.sourceIDs)
        let tags = try StoreJSON.encode(record.tags)
        let providers = try StoreJSON.encode(record.providers)
        return try await mapped {
            try await client.withTransaction(logger: logger) { connection in
                let rows = try await connection.query("""
                    UPDATE content_records SET status = 'ARCHIVED', live_intent = NULL, updated_at = \(record.createdAt)
                    WHERE content_id = \(old) AND live_intent = \(record.intentID.rawValue) RETURNING content_id
                    """, logger: self.logger)
                var replaced = false
                for try await _ in rows { replaced = true }
                guard replaced else { return false }
                try await connection.query("""
                    INSERT INTO content_records (content_id, intent_id, owner_did, content_type, source_ids, audience_type, size, content_hash,
                      bundle_size, title, tags, public_content_key, providers, replica_count, status, live_intent, created_at, updated_at)
                    VALUES (\(record.contentId), \(record.intentID.rawValue), \(record.ownerDid.description), \(record.contentType.rawValue),
                            \(sources), \(record.audienceType.rawValue), \(record.size), \(record.contentHash), \(record.bundleSize),
                            \(record.title), \(tags), \(record.publicContentKey), \(providers), \(record.replicaCount),
                            \(record.status.rawValue), \(record.intentID.rawValue), \(record.createdAt), \(record.updatedAt))
                    """, logger: self.logger)
                return true
            }
        }
    }

    public func contentRecord(contentId: String) async throws -> ContentRecord? {
        try await fetch("SELECT * FROM content_records WHERE content_id = \(contentId)", Self.record).first
    }

    public func contentRecord(intentID: IntentID) async throws -> ContentRecord? {
        try await fetch("SELECT * FROM content_records WHERE live_intent = \(intentID.rawValue)", Self.record).first
    }

    public func updateContentRecord(contentId: String, status: ContentRecordStatus, providers: [String]?, replicaCount: Int?,
                                    at date: Date) async throws {
        let providerJSON = try providers.map { try StoreJSON.encode($0) }
        try await client.query("""
            UPDATE content_records SET status = \(status.rawValue), providers = COALESCE(\(providerJSON), providers),
              replica_count = COALESCE(\(replicaCount), replica_count),
              live_intent = CASE WHEN \(status.rawValue) = 'ROLLED_BACK' THEN NULL ELSE live_intent END, updated_at = \(date)
            WHERE content_id = \(contentId)
            """, logger: logger)
    }

    public func contentRecords(_ query: ContentQuery) async throws -> Page<ContentRecord> {
        var filter = BoundSQL()
        var conditions = ["status = 'ACTIVE'"]
        if let owner = query.ownerDid { conditions.append("owner_did = \(filter.bind(owner.description))") }
        if let type = query.contentType { conditions.append("content_type = \(filter.bind(type.rawValue))") }
        if let audience = query.audienceType { conditions.append("audience_type = \(filter.bind(audience.rawValue))") }
        // ILIKE: SQLite's LIKE ignores (ASCII) case; the escape makes `%`, `_` and `\` literal.
        if let text = query.text, !text.isEmpty {
            let pattern = filter.bind("%" + Self.likeEscaped(text) + "%")
            conditions.append("(title ILIKE \(pattern) ESCAPE '\\' OR tags ILIKE \(pattern) ESCAPE '\\')")
        }
        for tag in query.tags {
            conditions.append("tags ILIKE \(filter.bind("%" + Self.likeEscaped(try StoreJSON.encode(tag)) + "%")) ESCAPE '\\'")
        }
        if let ids = query.intentIDs {
            guard !ids.isEmpty else { return Page(items: [], totalItems: 0, request: query.page) }
            conditions.append("intent_id = ANY(\(filter.bind(ids.map(\.rawValue)))::text[])")
        }
        if let visibility = query.visibleTo {
            var alternatives: [String] = []
            if visibility.includePublic { alternatives.append("audience_type = 'PUBLIC'") }
            if !visibility.intentIDs.isEmpty {
                alternatives.append("intent_id = ANY(\(filter.bind(visibility.intentIDs.map(\.rawValue)))::text[])")
            }
            conditions.append(alternatives.isEmpty ? "FALSE" : "(" + alternatives.joined(separator: " OR ") + ")")
        }
        filter.append(conditions.joined(separator: " AND "))
        return try await page(query.page, count: "SELECT COUNT(*) FROM content_records WHERE", items: "SELECT * FROM content_records WHERE",
                              filter: filter, order: "created_at DESC, content_id COLLATE \"C\"", Self.record)
    }

    static func likeEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
    }

    public func logAccess(_ access: ContentAccess) async throws {
        try await client.query("""
            INSERT INTO content_access_log (content_id, intent_id, accessor_did, access_type, success, error_code, at)
            VALUES (\(access.contentId), \(access.intentID?.rawValue), \(access.accessorDid?.description), \(access.type.rawValue),
                    \(access.success), \(access.errorCode), \(access.at))
            """, logger: logger)
    }

    public func accessLog(contentId: String, limit: Int) async throws -> [ContentAccess] {
        try await fetch("SELECT * FROM content_access_log WHERE content_id = \(contentId) ORDER BY id DESC LIMIT \(limit)") { row in
            ContentAccess(contentId: try row["content_id"], intentID: (try row["intent_id"] as String?).map(IntentID.init(trusted:)),
                          accessorDid: try (try row["accessor_did"] as String?).map { try DID(parsing: $0) },
                          type: AccessType(rawValue: try row["access_type"]) ?? .view, success: try row["success"],
                          errorCode: try row["error_code"], at: try row["at"])
        }
    }

    // MARK: Analytics events

    public func appendEvents(_ events: [AnalyticsEvent]) async throws {
        guard let query = try Self.insertEventsQuery(events) else { return }
        try await client.query(query, logger: logger)
    }

    static func insertEvents(_ events: [AnalyticsEvent], _ connection: PostgresConnection, _ logger: Logger) async throws {
        guard let query = try insertEventsQuery(events) else { return }
        try await connection.query(query, logger: logger)
    }

    /// One multi-row insert; an event whose `dedupKey` is stored (or repeated in the batch) is skipped.
    static func insertEventsQuery(_ events: [AnalyticsEvent]) throws -> PostgresQuery? {
        guard !events.isEmpty else { return nil }
        var sql = BoundSQL()
        var rows: [String] = []
        for event in events {
            let values = [sql.bind(event.type.rawValue), sql.bind(event.actorDid?.description), sql.bind(event.subject),
                          sql.bind(try StoreJSON.encode(event.properties)), sql.bind(event.dedupKey), sql.bind(event.at)]
            rows.append("(" + values.joined(separator: ", ") + ")")
        }
        sql.append("INSERT INTO analytics_events (event_type, actor_did, subject, properties, dedup_key, at) VALUES ")
        sql.append(rows.joined(separator: ", "))
        sql.append(" ON CONFLICT (dedup_key) DO NOTHING")
        return sql.query
    }

    public func events(type: AnalyticsEventType?, subject: String?, limit: Int) async throws -> [AnalyticsEvent] {
        var sql = BoundSQL()
        var conditions = ["TRUE"]
        if let type { conditions.append("event_type = \(sql.bind(type.rawValue))") }
        if let subject { conditions.append("subject = \(sql.bind(subject))") }
        let window = sql.bind(limit)
        sql.append("SELECT * FROM analytics_events WHERE \(conditions.joined(separator: " AND ")) ORDER BY id LIMIT \(window)")
        return try await fetch(sql.query) { row in
            AnalyticsEvent(type: AnalyticsEventType(rawValue: try row["event_type"]) ?? .shareCreated,
                           actorDid: try (try row["actor_did"] as String?).map { try DID(parsing: $0) }, subject: try row["subject"],
                           properties: try StoreJSON.decode([String: String].self, try row["properties"]), at: try row["at"],
                           dedupKey: try row["dedup_key"])
        }
    }

    // MARK: Outbox

    public func enqueuePublish(_ job: PublishJob) async throws -> (job: PublishJob, created: Bool) {
        // Insert, else read the job that won; a concurrent inserter's commit is visible to the
        // second statement. Retried if the winner's job was deleted in between.
        for _ in 0..<3 {
            let inserted = try await fetch("""
                INSERT INTO publish_outbox (intent_id, intent_version, stage, content_id, attempts, next_attempt_at, last_error, created_at, updated_at)
                VALUES (\(job.intentID.rawValue), \(job.intentVersion), \(job.stage.rawValue), \(job.contentId), \(job.attempts),
                        \(job.nextAttemptAt), \(job.lastError), \(job.createdAt), \(job.updatedAt))
                ON CONFLICT (intent_id) DO NOTHING RETURNING *
                """, Self.job)
            if let stored = inserted.first { return (stored, true) }
            if let stored = try await publishJob(job.intentID) { return (stored, false) }
        }
        throw VivimError(.serviceUnavailable, "the publish job changed concurrently; try again")
    }

    public func publishJob(_ intentID: IntentID) async throws -> PublishJob? {
        try await fetch("SELECT * FROM publish_outbox WHERE intent_id = \(intentID.rawValue)", Self.job).first
    }

    public func updatePublishJob(_ job: PublishJob) async throws {
        try await client.query("""
            UPDATE publish_outbox SET intent_version = \(job.intentVersion), stage = \(job.stage.rawValue), content_id = \(job.contentId),
              attempts = \(job.attempts), next_attempt_at = \(job.nextAttemptAt), last_error = \(job.lastError), updated_at = \(job.updatedAt)
            WHERE intent_id = \(job.intentID.rawValue)
            """, logger: logger)
    }

    public func deletePublishJob(_ intentID: IntentID) async throws {
        try await client.query("DELETE FROM publish_outbox WHERE intent_id = \(intentID.rawValue)", logger: logger)
    }

    public func pendingPublishJobs(dueBy date: Date, limit: Int) async throws -> [PublishJob] {
        try await fetch("""
            SELECT * FROM publish_outbox WHERE stage <> 'FAILED' AND next_attempt_at <= \(date)
            ORDER BY next_attempt_at, intent_id COLLATE "C" LIMIT \(limit)
            """, Self.job)
    }

    // MARK: Leases

    public func acquireLease(_ name: String, holder: String, until: Date, now: Date) async throws -> Bool {
        try await returnsRow("""
            INSERT INTO leases (name, holder, expires_at) VALUES (\(name), \(holder), \(until))
            ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
            WHERE leases.holder = EXCLUDED.holder OR leases.expires_at <= \(now)
            RETURNING 1
            """)
    }

    // MARK: Epoch keys

    public func insertEpochKey(_ key: StoredEpochKey, capsules: [StoredEpochCapsule]) async throws {
        try await mapped {
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query("""
                    INSERT INTO circle_epoch_keys (circle_id, epoch, sealed_key, created_at)
                    VALUES (\(key.circleID.rawValue), \(key.epoch), \(Data(key.sealedKey)), \(key.createdAt))
                    """, logger: self.logger)
                if let query = Self.upsertCapsulesQuery(capsules) { try await connection.query(query, logger: self.logger) }
            }
        }
    }

    public func currentEpochKey(of circleID: CircleID) async throws -> StoredEpochKey? {
        try await fetch("SELECT * FROM circle_epoch_keys WHERE circle_id = \(circleID.rawValue) ORDER BY epoch DESC LIMIT 1",
                        Self.epochKey).first
    }

    public func epochKey(of circleID: CircleID, epoch: Int) async throws -> StoredEpochKey? {
        try await fetch("SELECT * FROM circle_epoch_keys WHERE circle_id = \(circleID.rawValue) AND epoch = \(epoch)", Self.epochKey).first
    }

    public func upsertEpochCapsules(_ capsules: [StoredEpochCapsule]) async throws {
        guard let query = Self.upsertCapsulesQuery(capsules) else { return }
        try await mapped { _ = try await client.query(query, logger: logger) }
    }

    /// One multi-row upsert; of capsules repeated in the batch the last one wins, as with
    /// SQLite's `INSERT OR REPLACE` one by one.
    static func upsertCapsulesQuery(_ capsules: [StoredEpochCapsule]) -> PostgresQuery? {
        var latest: [[String]: StoredEpochCapsule] = [:]
        var order: [[String]] = []
        for capsule in capsules {
            let key = [capsule.circleID.rawValue, capsule.memberDid.description, String(capsule.epoch)]
            if latest.updateValue(capsule, forKey: key) == nil { order.append(key) }
        }
        guard !order.isEmpty else { return nil }
        var sql = BoundSQL()
        let rows = order.compactMap { latest[$0] }.map { capsule in
            "(\(sql.bind(capsule.circleID.rawValue)), \(sql.bind(capsule.epoch)), \(sql.bind(capsule.memberDid.description)), \(sql.bind(capsule.capsuleJSON)))"
        }
        sql.append("INSERT INTO circle_epoch_capsules (circle_id, epoch, member_did, capsule) VALUES ")
        sql.append(rows.joined(separator: ", "))
        sql.append(" ON CONFLICT (circle_id, member_did, epoch) DO UPDATE SET capsule = EXCLUDED.capsule")
        return sql.query
    }

    public func epochCapsules(of did: DID, circleID: CircleID) async throws -> [StoredEpochCapsule] {
        try await fetch("""
            SELECT epoch, capsule FROM circle_epoch_capsules WHERE circle_id = \(circleID.rawValue) AND member_did = \(did.description)
            ORDER BY epoch
            """) { row in StoredEpochCapsule(circleID: circleID, epoch: try row["epoch"], memberDid: did, capsuleJSON: try row["capsule"]) }
    }

    // MARK: Publishing keys

    public func publishingKey(of did: DID) async throws -> PublishingKeyRecord? {
        try await fetch("SELECT * FROM publishing_keys WHERE did = \(did.description)", Self.publishingKey).first
    }

    public func storePublishingKey(_ record: PublishingKeyRecord) async throws -> PublishingKeyRecord {
        try await mapped {
            _ = try await client.query("""
                INSERT INTO publishing_keys (did, sealed_seed, public_key, delegation, created_at)
                VALUES (\(record.did.description), \(Data(record.sealedSeed)), \(Data(record.publicKey)), \(record.delegationJSON), \(record.createdAt))
                ON CONFLICT (did) DO NOTHING
                """, logger: logger)
        }
        guard let stored = try await publishingKey(of: record.did) else { throw VivimError.notFound("no publishing key for this user") }
        return stored
    }

    public func setDelegation(of did: DID, json: String) async throws {
        guard try await returnsRow("UPDATE publishing_keys SET delegation = \(json) WHERE did = \(did.description) RETURNING 1")
        else { throw VivimError.notFound("no publishing key for this user") }
    }

    // MARK: Row mapping

    static func intent(_ row: StoredRow) throws -> SharingIntent {
        try StoreJSON.decode(SharingIntent.self, try row["document"])
    }

    static func link(_ row: StoredRow) throws -> StoredShareLink {
        let passwordHash: String? = try row["password_hash"]
        let link = ShareLink(id: ShareLinkID(trusted: try row["id"]), code: try ShareLinkCode(parsing: try row["code"]),
                             intentID: IntentID(trusted: try row["intent_id"]), creatorDid: try DID(parsing: try row["creator_did"]),
                             maxUses: try row["max_uses"], usesCount: try row["uses_count"], expiresAt: try row["expires_at"],
                             isActive: try row["is_active"], requiresPassword: passwordHash != nil, createdAt: try row["created_at"])
        return StoredShareLink(link: link, passwordHash: passwordHash, zeroKnowledge: try row["zero_knowledge"])
    }

    static func record(_ row: StoredRow) throws -> ContentRecord {
        ContentRecord(contentId: try row["content_id"], intentID: IntentID(trusted: try row["intent_id"]),
                      ownerDid: try DID(parsing: try row["owner_did"]),
                      contentType: ContentType(rawValue: try row["content_type"]) ?? .conversation,
                      sourceIDs: try StoreJSON.decode([ContentID].self, try row["source_ids"]),
                      audienceType: AudienceType(rawValue: try row["audience_type"]) ?? .users, size: try row["size"],
                      contentHash: try row["content_hash"], bundleSize: try row["bundle_size"], title: try row["title"],
                      tags: try StoreJSON.decode([String].self, try row["tags"]), publicContentKey: try row["public_content_key"],
                      providers: try StoreJSON.decode([String].self, try row["providers"]), replicaCount: try row["replica_count"],
                      status: ContentRecordStatus(rawValue: try row["status"]) ?? .corrupted, createdAt: try row["created_at"],
                      updatedAt: try row["updated_at"])
    }

    static func job(_ row: StoredRow) throws -> PublishJob {
        PublishJob(intentID: IntentID(trusted: try row["intent_id"]), intentVersion: try row["intent_version"],
                   stage: PublishStage(rawValue: try row["stage"]) ?? .failed, contentId: try row["content_id"], attempts: try row["attempts"],
                   nextAttemptAt: try row["next_attempt_at"], lastError: try row["last_error"], createdAt: try row["created_at"],
                   updatedAt: try row["updated_at"])
    }

    static func epochKey(_ row: StoredRow) throws -> StoredEpochKey {
        StoredEpochKey(circleID: CircleID(trusted: try row["circle_id"]), epoch: try row["epoch"],
                       sealedKey: Array(try row["sealed_key"] as Data), createdAt: try row["created_at"])
    }

    static func publishingKey(_ row: StoredRow) throws -> PublishingKeyRecord {
        PublishingKeyRecord(did: try DID(parsing: try row["did"]), sealedSeed: Array(try row["sealed_seed"] as Data),
                            publicKey: Array(try row["public_key"] as Data), delegationJSON: try row["delegation"],
                            createdAt: try row["created_at"])
    }

    // MARK: Query helpers

    func fetch<T>(_ query: PostgresQuery, _ transform: (StoredRow) throws -> T) async throws -> [T] {
        var items: [T] = []
        for try await row in try await client.query(query, logger: logger) {
            items.append(try transform(StoredRow(row.makeRandomAccess())))
        }
        return items
    }

    /// A counted page: `count` and `items` are each followed by the filter; `items` then by the order and the window.
    func page<T>(_ request: PageRequest, count: String, items: String, filter: BoundSQL, order: String,
                 _ transform: (StoredRow) throws -> T) async throws -> Page<T> {
        var counting = filter
        counting.prepend(count + " ")
        let total = try await self.count(counting.query)
        var listing = filter
        listing.prepend(items + " ")
        let limit = listing.bind(request.pageSize), offset = listing.bind(request.offset)
        listing.append(" ORDER BY \(order) LIMIT \(limit) OFFSET \(offset)")
        return Page(items: try await fetch(listing.query, transform), totalItems: total, request: request)
    }
}

/// SQL assembled from fixed fragments with every value bound as a parameter (`$n`); never a
/// value spliced into the text.
struct BoundSQL {
    private(set) var sql = ""
    private(set) var binds = PostgresBindings()

    /// Binds `value` and returns its placeholder.
    mutating func bind<Value: PostgresDynamicTypeEncodable>(_ value: Value?) -> String {
        if let value { binds.append(value) } else { binds.appendNull() }
        return "$\(binds.count)"
    }

    mutating func append(_ fragment: String) { sql += fragment }
    mutating func prepend(_ fragment: String) { sql = fragment + sql }

    var query: PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: binds) }
}

/// A result row read by column name, like GRDB's `row["column"]`.
struct StoredRow {
    let row: PostgresRandomAccessRow
    init(_ row: PostgresRandomAccessRow) { self.row = row }

    subscript<T: PostgresDecodable>(_ column: String) -> T {
        get throws { try row[column].decode(T.self) }
    }
}

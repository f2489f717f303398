/// The sharing and publishing tables (SPEC §2.1), for both stores. The PostgreSQL form differs
/// only in types (TIMESTAMPTZ, BYTEA, BIGINT identity). Append-only like every migration.
enum SharingSchema {
    static let sqlite = """
        CREATE TABLE sharing_intents (
          id TEXT PRIMARY KEY,
          version INTEGER NOT NULL,
          owner_did TEXT NOT NULL,
          actor_did TEXT NOT NULL,
          intent_type TEXT NOT NULL,
          content_type TEXT NOT NULL,
          audience_type TEXT NOT NULL,
          status TEXT NOT NULL,
          publish_at DATETIME,
          expires_at DATETIME,
          max_views INTEGER,
          has_condition BOOLEAN NOT NULL,
          views_count INTEGER NOT NULL DEFAULT 0,
          document TEXT NOT NULL,
          created_at DATETIME NOT NULL,
          updated_at DATETIME NOT NULL,
          published_at DATETIME
        );
        CREATE INDEX sharing_intents_owner ON sharing_intents (owner_did, status, created_at);
        CREATE INDEX sharing_intents_actor ON sharing_intents (actor_did, created_at);
        CREATE INDEX sharing_intents_publish ON sharing_intents (status, publish_at);
        CREATE INDEX sharing_intents_expiry ON sharing_intents (status, expires_at);
        CREATE TABLE intent_targets (
          intent_id TEXT NOT NULL REFERENCES sharing_intents(id) ON DELETE CASCADE,
          kind TEXT NOT NULL CHECK (kind IN ('CONTENT', 'CIRCLE', 'USER', 'CO_OWNER')),
          target TEXT NOT NULL,
          PRIMARY KEY (kind, target, intent_id)
        );
        CREATE INDEX intent_targets_intent ON intent_targets (intent_id);
        CREATE TABLE share_permissions (
          intent_id TEXT NOT NULL REFERENCES sharing_intents(id) ON DELETE CASCADE,
          target_type TEXT NOT NULL,
          target_id TEXT NOT NULL,
          can_view BOOLEAN NOT NULL, can_copy BOOLEAN NOT NULL, can_annotate BOOLEAN NOT NULL,
          can_remix BOOLEAN NOT NULL, can_share BOOLEAN NOT NULL, can_download BOOLEAN NOT NULL,
          max_views INTEGER,
          views_count INTEGER NOT NULL DEFAULT 0,
          expires_at DATETIME,
          status TEXT NOT NULL CHECK (status IN ('ACTIVE', 'REVOKED', 'EXPIRED', 'EXHAUSTED')),
          PRIMARY KEY (intent_id, target_type, target_id)
        );
        CREATE INDEX share_permissions_target ON share_permissions (target_type, target_id, status);
        CREATE TABLE audience_members (
          intent_id TEXT NOT NULL REFERENCES sharing_intents(id) ON DELETE CASCADE,
          member_did TEXT NOT NULL,
          kind TEXT NOT NULL CHECK (kind IN ('USER', 'CIRCLE_MEMBER')),
          status TEXT NOT NULL CHECK (status IN ('PENDING', 'ACCEPTED', 'DECLINED', 'REMOVED')),
          updated_at DATETIME NOT NULL,
          PRIMARY KEY (intent_id, member_did)
        );
        CREATE INDEX audience_members_member ON audience_members (member_did, status);
        CREATE TABLE share_links (
          id TEXT PRIMARY KEY,
          code TEXT NOT NULL UNIQUE,
          intent_id TEXT NOT NULL REFERENCES sharing_intents(id) ON DELETE CASCADE,
          creator_did TEXT NOT NULL,
          max_uses INTEGER,
          uses_count INTEGER NOT NULL DEFAULT 0,
          expires_at DATETIME,
          is_active BOOLEAN NOT NULL,
          password_hash TEXT,
          zero_knowledge BOOLEAN NOT NULL,
          created_at DATETIME NOT NULL
        );
        CREATE INDEX share_links_creator ON share_links (creator_did, created_at);
        CREATE INDEX share_links_intent ON share_links (intent_id);
        CREATE TABLE content_records (
          content_id TEXT PRIMARY KEY,
          intent_id TEXT NOT NULL REFERENCES sharing_intents(id) ON DELETE CASCADE,
          owner_did TEXT NOT NULL,
          content_type TEXT NOT NULL,
          source_ids TEXT NOT NULL,
          audience_type TEXT NOT NULL,
          size INTEGER NOT NULL,
          content_hash TEXT NOT NULL,
          bundle_size INTEGER NOT NULL,
          title TEXT,
          tags TEXT NOT NULL,
          public_content_key TEXT,
          providers TEXT NOT NULL,
          replica_count INTEGER NOT NULL,
          status TEXT NOT NULL,
          live_intent TEXT UNIQUE,
          created_at DATETIME NOT NULL,
          updated_at DATETIME NOT NULL
        );
        CREATE INDEX content_records_owner ON content_records (owner_did, created_at);
        CREATE INDEX content_records_intent ON content_records (intent_id);
        CREATE INDEX content_records_hash ON content_records (owner_did, content_hash);
        CREATE TABLE content_providers (
          content_id TEXT NOT NULL REFERENCES content_records(content_id) ON DELETE CASCADE,
          node_id TEXT NOT NULL,
          is_owner BOOLEAN NOT NULL,
          is_primary BOOLEAN NOT NULL,
          replica_number INTEGER NOT NULL,
          online BOOLEAN NOT NULL,
          last_verified DATETIME,
          size INTEGER NOT NULL,
          checksum TEXT NOT NULL,
          PRIMARY KEY (content_id, node_id)
        );
        CREATE TABLE content_access_log (
          id INTEGER PRIMARY KEY,
          content_id TEXT NOT NULL,
          intent_id TEXT,
          accessor_did TEXT,
          access_type TEXT NOT NULL,
          success BOOLEAN NOT NULL,
          error_code TEXT,
          at DATETIME NOT NULL
        );
        CREATE INDEX content_access_log_content ON content_access_log (content_id, at);
        CREATE TABLE analytics_events (
          id INTEGER PRIMARY KEY,
          event_type TEXT NOT NULL,
          actor_did TEXT,
          subject TEXT NOT NULL,
          properties TEXT NOT NULL,
          dedup_key TEXT UNIQUE,
          at DATETIME NOT NULL
        );
        CREATE INDEX analytics_events_type_time ON analytics_events (event_type, at);
        CREATE INDEX analytics_events_subject ON analytics_events (subject);
        CREATE TABLE publish_outbox (
          intent_id TEXT PRIMARY KEY,
          intent_version INTEGER NOT NULL,
          stage TEXT NOT NULL,
          content_id TEXT,
          attempts INTEGER NOT NULL,
          next_attempt_at DATETIME NOT NULL,
          last_error TEXT,
          created_at DATETIME NOT NULL,
          updated_at DATETIME NOT NULL
        );
        CREATE INDEX publish_outbox_due ON publish_outbox (stage, next_attempt_at);
        CREATE TABLE leases (
          name TEXT PRIMARY KEY,
          holder TEXT NOT NULL,
          expires_at DATETIME NOT NULL
        );
        CREATE TABLE circle_epoch_keys (
          circle_id TEXT NOT NULL REFERENCES circles(id) ON DELETE CASCADE,
          epoch INTEGER NOT NULL,
          sealed_key BLOB NOT NULL,
          created_at DATETIME NOT NULL,
          PRIMARY KEY (circle_id, epoch)
        );
        CREATE TABLE circle_epoch_capsules (
          circle_id TEXT NOT NULL,
          epoch INTEGER NOT NULL,
          member_did TEXT NOT NULL,
          capsule TEXT NOT NULL,
          PRIMARY KEY (circle_id, member_did, epoch),
          FOREIGN KEY (circle_id, epoch) REFERENCES circle_epoch_keys(circle_id, epoch) ON DELETE CASCADE
        );
        CREATE TABLE publishing_keys (
          did TEXT PRIMARY KEY REFERENCES users(did) ON DELETE CASCADE,
          sealed_seed BLOB NOT NULL,
          public_key BLOB NOT NULL,
          delegation TEXT,
          created_at DATETIME NOT NULL
        );
        """

    /// The same tables for PostgreSQL, one statement each (migration 2 "sharing_publishing").
    /// Integers are BIGINT, JSON documents TEXT so they round-trip byte for byte.
    static let postgres: [String] = [
        """
        CREATE TABLE sharing_intents (
          id TEXT PRIMARY KEY,
          version BIGINT NOT NULL,
          owner_did TEXT NOT NULL,
          actor_did TEXT NOT NULL,
          intent_type TEXT NOT NULL,
          content_type TEXT NOT NULL,
          audience_type TEXT NOT NULL,
          status TEXT NOT NULL,
          publish_at TIMESTAMPTZ,
          expires_at TIMESTAMPTZ,
          max_views BIGINT,
          has_condition BOOLEAN NOT NULL,
          views_count BIGINT NOT NULL DEFAULT 0,
          document TEXT NOT NULL,
          created_at TIMESTAMPTZ NOT NULL,
          updated_at TIMESTAMPTZ NOT NULL,
          published_at TIMESTAMPTZ)
        """,
        "CREATE INDEX sharing_intents_owner ON sharing_intents (owner_did, status, created_at)",
        "CREATE INDEX sharing_intents_actor ON sharing_intents (actor_did, created_at)",
        "CREATE INDEX sharing_intents_publish ON sharing_intents (status, publish_at)",
        "CREATE INDEX sharing_intents_expiry ON sharing_intents (status, expires_at)",
        """
        CREATE TABLE intent_targets (
          intent_id TEXT NOT NULL REFERENCES sharing_intents(id) ON DELETE CASCADE,
          kind TEXT NOT NULL CHECK (kind IN ('CONTENT', 'CIRCLE', 'USER', 'CO_OWNER')),
          target TEXT NOT NULL,
          PRIMARY KEY (kind, target, intent_id))
        """,
        "CREATE INDEX intent_targets_intent ON intent_targets (intent_id)",
        """
        CREATE TABLE share_permissions (
          intent_id TEXT NOT NULL REFERENCES sharing_intents(id) ON DELETE CASCADE,
          target_type TEXT NOT NULL,
          target_id TEXT NOT NULL,
          can_view BOOLEAN NOT NULL, can_copy BOOLEAN NOT NULL, can_annotate BOOLEAN NOT NULL,
          can_remix BOOLEAN NOT NULL, can_share BOOLEAN NOT NULL, can_download BOOLEAN NOT NULL,
          max_views BIGINT,
          views_count BIGINT NOT NULL DEFAULT 0,
          expires_at TIMESTAMPTZ,
          status TEXT NOT NULL CHECK (status IN ('ACTIVE', 'REVOKED', 'EXPIRED', 'EXHAUSTED')),
          PRIMARY KEY (intent_id, target_type, target_id))
        """,
        "CREATE INDEX share_permissions_target ON share_permissions (target_type, target_id, status)",
        """
        CREATE TABLE audience_members (
          intent_id TEXT NOT NULL REFERENCES sharing_intents(id) ON DELETE CASCADE,
          member_did TEXT NOT NULL,
          kind TEXT NOT NULL CHECK (kind IN ('USER', 'CIRCLE_MEMBER')),
          status TEXT NOT NULL CHECK (status IN ('PENDING', 'ACCEPTED', 'DECLINED', 'REMOVED')),
          updated_at TIMESTAMPTZ NOT NULL,
          PRIMARY KEY (intent_id, member_did))
        """,
        "CREATE INDEX audience_members_member ON audience_members (member_did, status)",
        """
        CREATE TABLE share_links (
          id TEXT PRIMARY KEY,
          code TEXT NOT NULL UNIQUE,
          intent_id TEXT NOT NULL REFERENCES sharing_intents(id) ON DELETE CASCADE,
          creator_did TEXT NOT NULL,
          max_uses BIGINT,
          uses_count BIGINT NOT NULL DEFAULT 0,
          expires_at TIMESTAMPTZ,
          is_active BOOLEAN NOT NULL,
          password_hash TEXT,
          zero_knowledge BOOLEAN NOT NULL,
          created_at TIMESTAMPTZ NOT NULL)
        """,
        "CREATE INDEX share_links_creator ON share_links (creator_did, created_at)",
        "CREATE INDEX share_links_intent ON share_links (intent_id)",
        """
        CREATE TABLE content_records (
          content_id TEXT PRIMARY KEY,
          intent_id TEXT NOT NULL REFERENCES sharing_intents(id) ON DELETE CASCADE,
          owner_did TEXT NOT NULL,
          content_type TEXT NOT NULL,
          source_ids TEXT NOT NULL,
          audience_type TEXT NOT NULL,
          size BIGINT NOT NULL,
          content_hash TEXT NOT NULL,
          bundle_size BIGINT NOT NULL,
          title TEXT,
          tags TEXT NOT NULL,
          public_content_key TEXT,
          providers TEXT NOT NULL,
          replica_count BIGINT NOT NULL,
          status TEXT NOT NULL,
          live_intent TEXT UNIQUE,
          created_at TIMESTAMPTZ NOT NULL,
          updated_at TIMESTAMPTZ NOT NULL)
        """,
        "CREATE INDEX content_records_owner ON content_records (owner_did, created_at)",
        "CREATE INDEX content_records_intent ON content_records (intent_id)",
        "CREATE INDEX content_records_hash ON content_records (owner_did, content_hash)",
        """
        CREATE TABLE content_providers (
          content_id TEXT NOT NULL REFERENCES content_records(content_id) ON DELETE CASCADE,
          node_id TEXT NOT NULL,
          is_owner BOOLEAN NOT NULL,
          is_primary BOOLEAN NOT NULL,
          replica_number BIGINT NOT NULL,
          online BOOLEAN NOT NULL,
          last_verified TIMESTAMPTZ,
          size BIGINT NOT NULL,
          checksum TEXT NOT NULL,
          PRIMARY KEY (content_id, node_id))
        """,
        """
        CREATE TABLE content_access_log (
          id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          content_id TEXT NOT NULL,
          intent_id TEXT,
          accessor_did TEXT,
          access_type TEXT NOT NULL,
          success BOOLEAN NOT NULL,
          error_code TEXT,
          at TIMESTAMPTZ NOT NULL)
        """,
        "CREATE INDEX content_access_log_content ON content_access_log (content_id, at)",
        """
        CREATE TABLE analytics_events (
          id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          event_type TEXT NOT NULL,
          actor_did TEXT,
          subject TEXT NOT NULL,
          properties TEXT NOT NULL,
          dedup_key TEXT UNIQUE,
          at TIMESTAMPTZ NOT NULL)
        """,
        "CREATE INDEX analytics_events_type_time ON analytics_events (event_type, at)",
        "CREATE INDEX analytics_events_subject ON analytics_events (subject)",
        """
        CREATE TABLE publish_outbox (
          intent_id TEXT PRIMARY KEY,
          intent_version BIGINT NOT NULL,
          stage TEXT NOT NULL,
          content_id TEXT,
          attempts BIGINT NOT NULL,
          next_attempt_at TIMESTAMPTZ NOT NULL,
          last_error TEXT,
          created_at TIMESTAMPTZ NOT NULL,
          updated_at TIMESTAMPTZ NOT NULL)
        """,
        "CREATE INDEX publish_outbox_due ON publish_outbox (stage, next_attempt_at)",
        """
        CREATE TABLE leases (
          name TEXT PRIMARY KEY,
          holder TEXT NOT NULL,
          expires_at TIMESTAMPTZ NOT NULL)
        """,
        """
        CREATE TABLE circle_epoch_keys (
          circle_id TEXT NOT NULL REFERENCES circles(id) ON DELETE CASCADE,
          epoch BIGINT NOT NULL,
          sealed_key BYTEA NOT NULL,
          created_at TIMESTAMPTZ NOT NULL,
          PRIMARY KEY (circle_id, epoch))
        """,
        """
        CREATE TABLE circle_epoch_capsules (
          circle_id TEXT NOT NULL,
          epoch BIGINT NOT NULL,
          member_did TEXT NOT NULL,
          capsule TEXT NOT NULL,
          PRIMARY KEY (circle_id, member_did, epoch),
          FOREIGN KEY (circle_id, epoch) REFERENCES circle_epoch_keys(circle_id, epoch) ON DELETE CASCADE)
        """,
        """
        CREATE TABLE publishing_keys (
          did TEXT PRIMARY KEY REFERENCES users(did) ON DELETE CASCADE,
          sealed_seed BYTEA NOT NULL,
          public_key BYTEA NOT NULL,
          delegation TEXT,
          created_at TIMESTAMPTZ NOT NULL)
        """,
    ]
}

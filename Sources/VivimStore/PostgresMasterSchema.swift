/// Versioned, append-only migrations of the PostgreSQL master store, applied at start-up
/// under an advisory lock. Never edit a shipped migration; add a new version.
enum PostgresMasterSchema {
    struct Migration {
        var version: Int
        var name: String
        var statements: [String]
    }

    static let migrations: [Migration] = [
        Migration(version: 1, name: "identity_circles_audit", statements: [
            """
            CREATE TABLE users (
              did TEXT PRIMARY KEY,
              display_name TEXT,
              encryption_alg TEXT NOT NULL,
              encryption_key BYTEA NOT NULL,
              sharing_preferences JSONB NOT NULL DEFAULT '{}',
              analytics_settings JSONB NOT NULL DEFAULT '{}',
              privacy_settings JSONB NOT NULL DEFAULT '{}',
              total_shares BIGINT NOT NULL DEFAULT 0,
              total_views BIGINT NOT NULL DEFAULT 0,
              created_at TIMESTAMPTZ NOT NULL,
              updated_at TIMESTAMPTZ NOT NULL)
            """,
            """
            CREATE TABLE devices (
              did TEXT NOT NULL REFERENCES users(did) ON DELETE CASCADE,
              device_id TEXT NOT NULL,
              name TEXT,
              public_key BYTEA,
              created_at TIMESTAMPTZ NOT NULL,
              last_active_at TIMESTAMPTZ NOT NULL,
              PRIMARY KEY (did, device_id))
            """,
            """
            CREATE TABLE auth_challenges (
              challenge TEXT PRIMARY KEY,
              did TEXT NOT NULL,
              expires_at TIMESTAMPTZ NOT NULL)
            """,
            "CREATE INDEX auth_challenges_expiry ON auth_challenges (expires_at)",
            """
            CREATE TABLE sessions (
              id TEXT PRIMARY KEY,
              did TEXT NOT NULL REFERENCES users(did) ON DELETE CASCADE,
              device_id TEXT,
              created_at TIMESTAMPTZ NOT NULL,
              expires_at TIMESTAMPTZ NOT NULL,
              revoked_at TIMESTAMPTZ)
            """,
            "CREATE INDEX sessions_did ON sessions (did, created_at)",
            """
            CREATE TABLE server_keys (
              kid TEXT PRIMARY KEY,
              seed BYTEA NOT NULL,
              created_at TIMESTAMPTZ NOT NULL)
            """,
            """
            CREATE TABLE circles (
              id TEXT PRIMARY KEY,
              name TEXT NOT NULL,
              description TEXT,
              icon TEXT,
              owner_did TEXT NOT NULL REFERENCES users(did) ON DELETE CASCADE,
              is_private BOOLEAN NOT NULL,
              sharing_settings JSONB NOT NULL DEFAULT '{}',
              default_permissions JSONB NOT NULL,
              incoming_share_count BIGINT NOT NULL DEFAULT 0,
              outgoing_share_count BIGINT NOT NULL DEFAULT 0,
              last_shared_at TIMESTAMPTZ,
              created_at TIMESTAMPTZ NOT NULL,
              updated_at TIMESTAMPTZ NOT NULL)
            """,
            "CREATE INDEX circles_owner ON circles (owner_did, created_at)",
            """
            CREATE TABLE circle_members (
              circle_id TEXT NOT NULL REFERENCES circles(id) ON DELETE CASCADE,
              member_did TEXT NOT NULL REFERENCES users(did) ON DELETE CASCADE,
              role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
              can_invite BOOLEAN NOT NULL,
              can_share BOOLEAN NOT NULL,
              joined_at TIMESTAMPTZ NOT NULL,
              PRIMARY KEY (circle_id, member_did))
            """,
            "CREATE INDEX circle_members_member ON circle_members (member_did, role)",
            """
            CREATE TABLE audit_log (
              seq BIGINT PRIMARY KEY,
              ts_ms BIGINT NOT NULL,
              event_type TEXT NOT NULL,
              actor_did TEXT,
              subject TEXT,
              success BOOLEAN NOT NULL,
              details JSONB NOT NULL,
              client_address TEXT,
              prev_hash TEXT NOT NULL,
              hash TEXT NOT NULL)
            """,
            "CREATE INDEX audit_log_type_time ON audit_log (event_type, ts_ms)",
            """
            CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$
            """,
            """
            CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
            """,
        ]),
        Migration(version: 2, name: "sharing_publishing", statements: SharingSchema.postgres),
    ]
}

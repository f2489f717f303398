import GRDB

/// Versioned, append-only migrations of the embedded master store. They mirror
/// `PostgresMasterSchema` table for table; never edit a shipped migration, add one.
enum SQLiteMasterSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("001_identity_circles_audit") { db in
            try db.execute(sql: """
                CREATE TABLE users (
                  did TEXT PRIMARY KEY,
                  display_name TEXT,
                  encryption_alg TEXT NOT NULL,
                  encryption_key BLOB NOT NULL,
                  sharing_preferences TEXT NOT NULL DEFAULT '{}',
                  analytics_settings TEXT NOT NULL DEFAULT '{}',
                  privacy_settings TEXT NOT NULL DEFAULT '{}',
                  total_shares INTEGER NOT NULL DEFAULT 0,
                  total_views INTEGER NOT NULL DEFAULT 0,
                  created_at DATETIME NOT NULL,
                  updated_at DATETIME NOT NULL
                );
                CREATE TABLE devices (
                  did TEXT NOT NULL REFERENCES users(did) ON DELETE CASCADE,
                  device_id TEXT NOT NULL,
                  name TEXT,
                  public_key BLOB,
                  created_at DATETIME NOT NULL,
                  last_active_at DATETIME NOT NULL,
                  PRIMARY KEY (did, device_id)
                );
                CREATE TABLE auth_challenges (
                  challenge TEXT PRIMARY KEY,
                  did TEXT NOT NULL,
                  expires_at DATETIME NOT NULL
                );
                CREATE INDEX auth_challenges_expiry ON auth_challenges (expires_at);
                CREATE TABLE sessions (
                  id TEXT PRIMARY KEY,
                  did TEXT NOT NULL REFERENCES users(did) ON DELETE CASCADE,
                  device_id TEXT,
                  created_at DATETIME NOT NULL,
                  expires_at DATETIME NOT NULL,
                  revoked_at DATETIME
                );
                CREATE INDEX sessions_did ON sessions (did, created_at);
                CREATE TABLE server_keys (
                  kid TEXT PRIMARY KEY,
                  seed BLOB NOT NULL,
                  created_at DATETIME NOT NULL
                );
                CREATE TABLE circles (
                  id TEXT PRIMARY KEY,
                  name TEXT NOT NULL,
                  description TEXT,
                  icon TEXT,
                  owner_did TEXT NOT NULL REFERENCES users(did) ON DELETE CASCADE,
                  is_private BOOLEAN NOT NULL,
                  sharing_settings TEXT NOT NULL DEFAULT '{}',
                  default_permissions TEXT NOT NULL,
                  incoming_share_count INTEGER NOT NULL DEFAULT 0,
                  outgoing_share_count INTEGER NOT NULL DEFAULT 0,
                  last_shared_at DATETIME,
                  created_at DATETIME NOT NULL,
                  updated_at DATETIME NOT NULL
                );
                CREATE INDEX circles_owner ON circles (owner_did, created_at);
                CREATE TABLE circle_members (
                  circle_id TEXT NOT NULL REFERENCES circles(id) ON DELETE CASCADE,
                  member_did TEXT NOT NULL REFERENCES users(did) ON DELETE CASCADE,
                  role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
                  can_invite BOOLEAN NOT NULL,
                  can_share BOOLEAN NOT NULL,
                  joined_at DATETIME NOT NULL,
                  PRIMARY KEY (circle_id, member_did)
                );
                CREATE INDEX circle_members_member ON circle_members (member_did, role);
                CREATE TABLE audit_log (
                  seq INTEGER PRIMARY KEY,
                  ts_ms INTEGER NOT NULL,
                  event_type TEXT NOT NULL,
                  actor_did TEXT,
                  subject TEXT,
                  success BOOLEAN NOT NULL,
                  details TEXT NOT NULL,
                  client_address TEXT,
                  prev_hash TEXT NOT NULL,
                  hash TEXT NOT NULL
                );
                CREATE INDEX audit_log_type_time ON audit_log (event_type, ts_ms);
                CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
                  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
                CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
                  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
                """)
        }
        migrator.registerMigration("002_sharing_publishing") { db in
            try db.execute(sql: SharingSchema.sqlite)
        }
        return migrator
    }
}

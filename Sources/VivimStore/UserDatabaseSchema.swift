import GRDB

/// The per-user schema (SPEC §2.2). Each file carries its own migration record and is
/// migrated when opened; migrations are named and append-only.
enum UserDatabaseSchema {
    /// Stored in the file header (`PRAGMA user_version`) once every migration is applied;
    /// bump it with each new migration.
    static let version = 2

    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("001_content") { db in
            try db.execute(sql: """
                CREATE TABLE conversations (
                  id TEXT PRIMARY KEY,
                  provider TEXT NOT NULL,
                  source_url TEXT,
                  title TEXT NOT NULL,
                  model TEXT,
                  state TEXT NOT NULL DEFAULT 'ACTIVE',
                  created_at DATETIME NOT NULL,
                  updated_at DATETIME NOT NULL,
                  imported_at DATETIME NOT NULL,
                  message_count INTEGER NOT NULL DEFAULT 0,
                  word_count INTEGER NOT NULL DEFAULT 0,
                  character_count INTEGER NOT NULL DEFAULT 0,
                  code_block_count INTEGER NOT NULL DEFAULT 0,
                  image_count INTEGER NOT NULL DEFAULT 0,
                  tool_call_count INTEGER NOT NULL DEFAULT 0,
                  tags TEXT NOT NULL DEFAULT '[]',
                  metadata TEXT NOT NULL DEFAULT '{}',
                  privacy_locked BOOLEAN NOT NULL DEFAULT 0,
                  is_shared BOOLEAN NOT NULL DEFAULT 0,
                  sharing_intent_id TEXT,
                  share_count INTEGER NOT NULL DEFAULT 0,
                  view_count INTEGER NOT NULL DEFAULT 0,
                  unique_viewers INTEGER NOT NULL DEFAULT 0,
                  last_shared_at DATETIME
                );
                CREATE INDEX conversations_imported ON conversations (imported_at);
                CREATE TABLE messages (
                  id TEXT PRIMARY KEY,
                  conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
                  idx INTEGER NOT NULL,
                  role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system', 'tool')),
                  author TEXT,
                  parts TEXT NOT NULL,
                  text TEXT NOT NULL,
                  created_at DATETIME,
                  UNIQUE (conversation_id, idx)
                );
                CREATE TABLE acus (
                  id TEXT PRIMARY KEY,
                  conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
                  message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
                  idx INTEGER NOT NULL,
                  type TEXT NOT NULL,
                  category TEXT NOT NULL,
                  content TEXT NOT NULL,
                  language TEXT,
                  author_did TEXT,
                  quality_score REAL,
                  view_count INTEGER NOT NULL DEFAULT 0,
                  share_count INTEGER NOT NULL DEFAULT 0,
                  quote_count INTEGER NOT NULL DEFAULT 0,
                  sharing_policy TEXT NOT NULL DEFAULT 'INHERIT'
                );
                CREATE INDEX acus_conversation ON acus (conversation_id, message_id, idx);
                CREATE INDEX acus_message ON acus (message_id);
                CREATE VIRTUAL TABLE messages_fts USING fts5(
                  text, content = 'messages', content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2');
                CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
                  INSERT INTO messages_fts (rowid, text) VALUES (new.rowid, new.text);
                END;
                CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
                  INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
                END;
                CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
                  INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
                  INSERT INTO messages_fts (rowid, text) VALUES (new.rowid, new.text);
                END;
                CREATE TABLE collections (
                  id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT, items TEXT NOT NULL DEFAULT '[]',
                  created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL);
                CREATE TABLE annotations (
                  id TEXT PRIMARY KEY, content_id TEXT NOT NULL, acu_id TEXT, body TEXT NOT NULL, author_did TEXT,
                  created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL);
                CREATE TABLE topic_profiles (
                  id TEXT PRIMARY KEY, topic TEXT NOT NULL UNIQUE, weight REAL NOT NULL DEFAULT 0, updated_at DATETIME NOT NULL);
                CREATE TABLE entity_profiles (
                  id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, facts TEXT NOT NULL DEFAULT '{}',
                  updated_at DATETIME NOT NULL);
                CREATE TABLE context_bundles (
                  id TEXT PRIMARY KEY, name TEXT NOT NULL, body TEXT NOT NULL, created_at DATETIME NOT NULL);
                CREATE TABLE notebooks (
                  id TEXT PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL DEFAULT '',
                  created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL);
                CREATE TABLE received_shares (
                  intent_id TEXT PRIMARY KEY, owner_did TEXT NOT NULL, content_id TEXT, bundle_ref TEXT,
                  cache_policy TEXT NOT NULL DEFAULT 'NONE', received_at DATETIME NOT NULL);
                CREATE TABLE content_stats (
                  content_id TEXT PRIMARY KEY, view_count INTEGER NOT NULL DEFAULT 0,
                  unique_viewers INTEGER NOT NULL DEFAULT 0, last_viewed_at DATETIME);
                """)
        }
        migrator.registerMigration("002_share_tracking") { db in
            try db.execute(sql: """
                CREATE TABLE content_viewers (
                  content_id TEXT NOT NULL, viewer TEXT NOT NULL, first_viewed_at DATETIME NOT NULL,
                  PRIMARY KEY (content_id, viewer));
                CREATE TABLE shares (
                  intent_id TEXT PRIMARY KEY, content_id TEXT NOT NULL, published_content_id TEXT, shared_at DATETIME NOT NULL);
                CREATE INDEX shares_content ON shares (content_id);
                """)
        }
        return migrator
    }()
}

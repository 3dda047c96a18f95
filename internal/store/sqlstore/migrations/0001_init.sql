-- Times are UTC microseconds since the Unix epoch (0: not set), so that a
-- round trip keeps the exact instant the audit hashes were computed over.

CREATE TABLE tokens (
	id         TEXT PRIMARY KEY,
	subject    TEXT NOT NULL,
	role       TEXT NOT NULL,
	namespace  TEXT NOT NULL DEFAULT '',
	hash       {{BYTES}} NOT NULL UNIQUE,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	revoked_at BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE namespaces (
	name       TEXT PRIMARY KEY,
	owners     TEXT NOT NULL, -- JSON array of token subjects
	created_at BIGINT NOT NULL
);

CREATE TABLE plugins (
	id             TEXT PRIMARY KEY,
	namespace      TEXT NOT NULL REFERENCES namespaces (name),
	name           TEXT NOT NULL,
	display_name   TEXT NOT NULL,
	description    TEXT NOT NULL,
	latest_version TEXT NOT NULL,
	search_text    TEXT NOT NULL, -- lower-cased id, display name and description
	updated_at     BIGINT NOT NULL
);
CREATE INDEX plugins_namespace ON plugins (namespace);

CREATE TABLE versions (
	id         TEXT PRIMARY KEY,
	plugin_id  TEXT NOT NULL REFERENCES plugins (id),
	version    TEXT NOT NULL,
	digest     TEXT NOT NULL,
	size       BIGINT NOT NULL,
	manifest   {{BYTES}} NOT NULL,
	files      TEXT NOT NULL, -- JSON array of store.File
	submitter  TEXT NOT NULL,
	state      TEXT NOT NULL,
	reason     TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	UNIQUE (plugin_id, version)
);
CREATE INDEX versions_digest ON versions (digest);
CREATE INDEX versions_state ON versions (state, created_at);

CREATE TABLE audit_events (
	seq       {{SEQ_PK}}, -- in SQLite the rowid: appends go to the end of the table
	time      BIGINT NOT NULL,
	actor     TEXT NOT NULL,
	action    TEXT NOT NULL,
	subject   TEXT NOT NULL,
	old_state TEXT NOT NULL,
	new_state TEXT NOT NULL,
	reason    TEXT NOT NULL,
	data      {{BYTES}},
	prev_hash TEXT NOT NULL,
	hash      TEXT NOT NULL
);
CREATE INDEX audit_events_subject ON audit_events (subject, seq);

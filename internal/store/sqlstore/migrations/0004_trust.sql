-- Publisher keys, per namespace. A retired key keeps its row (retired_at
-- set) so signatures made while it was current stay verifiable.
CREATE TABLE publisher_keys (
	namespace  TEXT NOT NULL REFERENCES namespaces (name),
	id         TEXT NOT NULL,
	algorithm  TEXT NOT NULL,
	pem        {{BYTES}} NOT NULL,
	added_by   TEXT NOT NULL,
	added_at   BIGINT NOT NULL,
	retired_by TEXT NOT NULL DEFAULT '',
	retired_at BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (namespace, id)
);

-- Per-namespace trust settings; a namespace without a row requires
-- signatures.
CREATE TABLE namespace_trust (
	namespace           TEXT PRIMARY KEY REFERENCES namespaces (name),
	signatures_required BOOLEAN NOT NULL
);

-- The publisher's signature kept with each version. It is written just
-- before the version's record (so the worker never sees a version without
-- it), hence no foreign key.
CREATE TABLE version_signatures (
	version_id TEXT PRIMARY KEY,
	key_id     TEXT NOT NULL,
	envelope   {{BYTES}} NOT NULL,
	created_at BIGINT NOT NULL
);

-- The transparency log's outbox: queued in the transaction of the change,
-- log_index set once the entry is in the log (-1 while pending).
CREATE TABLE trust_events (
	seq        {{SERIAL_PK}},
	entry      {{BYTES}} NOT NULL,
	created_at BIGINT NOT NULL,
	log_index  BIGINT NOT NULL DEFAULT -1
);
CREATE INDEX trust_events_pending ON trust_events (log_index, seq);

CREATE TABLE certificates (
	version_id TEXT NOT NULL REFERENCES versions (id),
	seq        INTEGER NOT NULL,
	kind       TEXT NOT NULL,
	envelope   {{BYTES}} NOT NULL,
	key_id     TEXT NOT NULL,
	issued_at  BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	event_seq  BIGINT NOT NULL REFERENCES trust_events (seq),
	PRIMARY KEY (version_id, seq)
);

CREATE TABLE revocations (
	version_id TEXT PRIMARY KEY REFERENCES versions (id),
	digest     TEXT NOT NULL,
	reason     TEXT NOT NULL,
	revoked_at BIGINT NOT NULL
);

CREATE TABLE revocation_lists (
	number      BIGINT PRIMARY KEY,
	envelope    {{BYTES}} NOT NULL,
	issued_at   BIGINT NOT NULL,
	next_update BIGINT NOT NULL
);

-- The marketplace's own signed SLSA provenance statement for a version it
-- rebuilt reproducibly (a DSSE envelope).
CREATE TABLE provenance_statements (
	version_id TEXT PRIMARY KEY REFERENCES versions (id),
	envelope   {{BYTES}} NOT NULL,
	created_at BIGINT NOT NULL
);

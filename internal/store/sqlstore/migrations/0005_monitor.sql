-- Revalidation: one schedule per version that was ever certified.
CREATE TABLE revalidations (
	version_id   TEXT PRIMARY KEY REFERENCES versions (id),
	plugin_id    TEXT NOT NULL,
	tier         TEXT NOT NULL,
	next_at      BIGINT NOT NULL,
	deadline     BIGINT NOT NULL DEFAULT 0, -- remediation deadline while suspended
	last_run_at  BIGINT NOT NULL DEFAULT 0,
	last_outcome TEXT NOT NULL DEFAULT '',
	last_reason  TEXT NOT NULL DEFAULT '',
	needs_review BOOLEAN NOT NULL DEFAULT FALSE, -- the next revalidation goes to people
	review_reason TEXT NOT NULL DEFAULT '',
	updated_at   BIGINT NOT NULL
);
CREATE INDEX revalidations_next ON revalidations (next_at);
CREATE INDEX revalidations_deadline ON revalidations (deadline) WHERE deadline > 0;

-- The component index: which versions ship which package, so a new
-- advisory finds its versions without reading every package again.
CREATE TABLE components (
	ecosystem  TEXT NOT NULL,
	name       TEXT NOT NULL,
	version_id TEXT NOT NULL REFERENCES versions (id),
	version    TEXT NOT NULL,
	PRIMARY KEY (ecosystem, name, version_id, version)
){{WITHOUT_ROWID}}; -- in SQLite the lookup key is the table: one B-tree, not two
CREATE INDEX components_version ON components (version_id);

-- Host API versions the platform offers.
CREATE TABLE host_api_offers (
	version    TEXT PRIMARY KEY,
	by_subject TEXT NOT NULL,
	offered_at BIGINT NOT NULL
);

-- What hosts report of each version's runtime health.
CREATE TABLE health_reports (
	id {{SERIAL_PK}},
	version_id    TEXT NOT NULL REFERENCES versions (id),
	host          TEXT NOT NULL,
	window_start  BIGINT NOT NULL,
	window_end    BIGINT NOT NULL,
	calls         BIGINT NOT NULL,
	errors        {{BYTES}} NOT NULL, -- JSON object: error kind → count
	denials       BIGINT NOT NULL,
	breaker_trips BIGINT NOT NULL,
	received_at   BIGINT NOT NULL
);
CREATE INDEX health_reports_version ON health_reports (version_id, received_at);

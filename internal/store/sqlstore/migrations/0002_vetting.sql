-- Background jobs: at most one queued or running job per (kind, key).
CREATE TABLE jobs (
	id {{SERIAL_PK}},
	kind        TEXT NOT NULL,
	job_key     TEXT NOT NULL,
	args        {{BYTES}},
	state       TEXT NOT NULL, -- queued, running, done, failed
	attempts    INTEGER NOT NULL DEFAULT 0,
	run_at      BIGINT NOT NULL,
	lease_until BIGINT NOT NULL DEFAULT 0,
	last_error  TEXT NOT NULL DEFAULT '',
	created_at  BIGINT NOT NULL,
	updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX jobs_active_key ON jobs (kind, job_key) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_due ON jobs (state, run_at);

-- Every run of the analyzers over a version.
CREATE TABLE vet_runs (
	version_id TEXT NOT NULL REFERENCES versions (id),
	run        INTEGER NOT NULL,
	results    {{BYTES}} NOT NULL, -- JSON array of vet.Result
	blocked    BOOLEAN NOT NULL,
	summary    TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (version_id, run)
);

-- False-positive decisions, carried forward by fingerprint.
CREATE TABLE suppressions (
	plugin_id   TEXT NOT NULL,
	fingerprint TEXT NOT NULL,
	rule_id     TEXT NOT NULL,
	by_subject  TEXT NOT NULL,
	reason      TEXT NOT NULL,
	created_at  BIGINT NOT NULL,
	PRIMARY KEY (plugin_id, fingerprint)
);

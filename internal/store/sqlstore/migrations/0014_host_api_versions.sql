-- Host API versions as first-class objects (issue 19 item 6). A published
-- version is immutable: its capabilities file (the normalized
-- hostapi.Spec as JSON), the older version it deprecates and that
-- version's sunset date and migration notes.
CREATE TABLE host_api_versions (
	version       TEXT PRIMARY KEY,
	spec          {{BYTES}} NOT NULL,
	deprecates    TEXT NOT NULL DEFAULT '',
	sunset_at     BIGINT NOT NULL DEFAULT 0, -- 0: no sunset date
	migration_url TEXT NOT NULL DEFAULT '',
	published_by  TEXT NOT NULL,
	published_at  BIGINT NOT NULL
);
CREATE INDEX host_api_versions_sunset ON host_api_versions (sunset_at) WHERE sunset_at > 0;

-- The compatibility matrix: one row per plugin version and host API
-- version, derived from the module's imports and confirmed by running its
-- scenarios in a sandbox offering that version. Derived data, rewritten on
-- every check, like the component index: not audited.
CREATE TABLE host_api_compat (
	version_id     TEXT NOT NULL REFERENCES versions (id),
	host_api       TEXT NOT NULL REFERENCES host_api_versions (version),
	plugin_id      TEXT NOT NULL,
	plugin_version TEXT NOT NULL,
	status         TEXT NOT NULL, -- compatible, deprecated, broken
	usages         {{BYTES}} NOT NULL, -- JSON: []hostapi.Usage
	confirmed      TEXT NOT NULL DEFAULT '', -- '' (not yet), passed, failed, no-scenarios
	detail         TEXT NOT NULL DEFAULT '',
	checked_at     BIGINT NOT NULL,
	PRIMARY KEY (version_id, host_api)
){{WITHOUT_ROWID}};
CREATE INDEX host_api_compat_host_api ON host_api_compat (host_api, plugin_id);

-- Sunset notices sent to plugin authors: one per plugin, sunsetting host
-- API version and threshold (90, 30 or 7 days before), so the daily job
-- can run any number of times and each notice goes out once.
CREATE TABLE host_api_notices (
	plugin_id  TEXT NOT NULL,
	host_api   TEXT NOT NULL,
	threshold  BIGINT NOT NULL,
	sunset_at  BIGINT NOT NULL,
	sent_at    BIGINT NOT NULL,
	PRIMARY KEY (plugin_id, host_api, threshold)
){{WITHOUT_ROWID}};

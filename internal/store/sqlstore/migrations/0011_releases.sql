-- Environments and releases (issue 18).

-- A host token carries the environment its host enrolled into; tokens of
-- other roles leave it empty.
ALTER TABLE tokens ADD COLUMN environment TEXT NOT NULL DEFAULT '';

-- The environment of the host that sent a health report, so promotion and
-- rollout decisions count the reports of one environment.
ALTER TABLE health_reports ADD COLUMN environment TEXT NOT NULL DEFAULT '';
CREATE INDEX health_reports_environment ON health_reports (version_id, environment, received_at);

-- What each environment runs of each plugin: one row per plugin and
-- environment, changed by compare-and-set on updated_at.
CREATE TABLE releases (
	plugin_id           TEXT NOT NULL,
	environment         TEXT NOT NULL,
	version_id          TEXT NOT NULL REFERENCES versions (id),
	rollout             INTEGER NOT NULL,
	status              TEXT NOT NULL,
	previous_version_id TEXT NOT NULL DEFAULT '',
	since               BIGINT NOT NULL,
	updated_at          BIGINT NOT NULL,
	PRIMARY KEY (plugin_id, environment)
){{WITHOUT_ROWID}};

-- Every change of a release, in order: the timeline, and what a release
-- rollback goes back to.
CREATE TABLE release_history (
	seq         {{SERIAL_PK}},
	plugin_id   TEXT NOT NULL,
	environment TEXT NOT NULL,
	action      TEXT NOT NULL,
	version_id  TEXT NOT NULL,
	rollout     INTEGER NOT NULL,
	actor       TEXT NOT NULL,
	reason      TEXT NOT NULL DEFAULT '',
	at          BIGINT NOT NULL
);
CREATE INDEX release_history_plugin ON release_history (plugin_id, environment, seq);

-- Stewards' approvals of a version for an environment.
CREATE TABLE release_approvals (
	version_id  TEXT NOT NULL REFERENCES versions (id),
	environment TEXT NOT NULL,
	approver    TEXT NOT NULL,
	at          BIGINT NOT NULL,
	PRIMARY KEY (version_id, environment, approver)
){{WITHOUT_ROWID}};

-- The kill switch: plugins no host may run.
CREATE TABLE plugin_kills (
	plugin_id TEXT PRIMARY KEY,
	reason    TEXT NOT NULL,
	actor     TEXT NOT NULL,
	at        BIGINT NOT NULL
){{WITHOUT_ROWID}};

-- Signed status feeds, numbered per environment.
CREATE TABLE status_feeds (
	environment TEXT NOT NULL,
	seq         BIGINT NOT NULL,
	envelope    {{BYTES}} NOT NULL,
	issued_at   BIGINT NOT NULL,
	next_update BIGINT NOT NULL,
	PRIMARY KEY (environment, seq)
){{WITHOUT_ROWID}};

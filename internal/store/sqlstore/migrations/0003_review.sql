-- Triage verdicts: one per triage of a version, kept.
CREATE TABLE verdicts (
	version_id    TEXT NOT NULL REFERENCES versions (id),
	seq           INTEGER NOT NULL,
	policy_digest TEXT NOT NULL,
	outcome       TEXT NOT NULL,
	tier          TEXT NOT NULL,
	weight        INTEGER NOT NULL,
	body          {{BYTES}} NOT NULL,
	created_at    BIGINT NOT NULL,
	PRIMARY KEY (version_id, seq)
);

-- The review queue.
CREATE TABLE review_items (
	version_id         TEXT PRIMARY KEY REFERENCES versions (id),
	plugin_id          TEXT NOT NULL,
	tier               TEXT NOT NULL,
	weight             INTEGER NOT NULL,
	approvals_required INTEGER NOT NULL,
	deadline           BIGINT NOT NULL,
	preferred_reviewer TEXT NOT NULL DEFAULT '',
	claimed_by         TEXT NOT NULL DEFAULT '',
	claim_until        BIGINT NOT NULL DEFAULT 0,
	escalated_at       BIGINT NOT NULL DEFAULT 0,
	is_open            BOOLEAN NOT NULL,
	created_at         BIGINT NOT NULL
);
CREATE INDEX review_queue ON review_items (is_open, deadline, weight DESC, version_id);

CREATE TABLE review_approvals (
	version_id TEXT NOT NULL REFERENCES versions (id),
	reviewer   TEXT NOT NULL,
	granted    TEXT NOT NULL, -- JSON array of permissions
	created_at BIGINT NOT NULL,
	PRIMARY KEY (version_id, reviewer)
);

CREATE TABLE review_messages (
	id {{SERIAL_PK}},
	plugin_id  TEXT NOT NULL,
	version_id TEXT NOT NULL,
	author     TEXT NOT NULL,
	kind       TEXT NOT NULL,
	body       TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE INDEX review_messages_plugin ON review_messages (plugin_id, id);

-- Policies, by digest; one is active.
CREATE TABLE policies (
	digest     TEXT PRIMARY KEY,
	modules    {{BYTES}} NOT NULL, -- JSON object: file name → Rego source
	applied_by TEXT NOT NULL,
	applied_at BIGINT NOT NULL,
	active     BOOLEAN NOT NULL
);

-- Stewards' switches that keep a plugin or a namespace out of auto-approval.
CREATE TABLE auto_approval_off (
	scope      TEXT PRIMARY KEY, -- "plugin:NS/NAME" or "namespace:NS"
	by_subject TEXT NOT NULL,
	reason     TEXT NOT NULL,
	created_at BIGINT NOT NULL
);

-- Webhook subscriptions. The signing secret is sealed by the caller
-- (AES-GCM with a key kept outside the database).
CREATE TABLE webhooks (
	id              TEXT PRIMARY KEY,
	owner           TEXT NOT NULL,
	url             TEXT NOT NULL,
	events          TEXT NOT NULL, -- JSON array of type filters
	namespace       TEXT NOT NULL DEFAULT '',
	plugin_id       TEXT NOT NULL DEFAULT '',
	secret          {{BYTES}} NOT NULL,
	created_at      BIGINT NOT NULL,
	disabled_at     BIGINT NOT NULL DEFAULT 0,
	disabled_reason TEXT NOT NULL DEFAULT ''
);

-- How far the audit trail has been fanned out into deliveries.
CREATE TABLE webhook_cursor (
	name TEXT PRIMARY KEY,
	seq  BIGINT NOT NULL
);
INSERT INTO webhook_cursor (name, seq) VALUES ('audit', 0);

CREATE TABLE webhook_deliveries (
	id           {{SERIAL_PK}},
	webhook_id   TEXT NOT NULL REFERENCES webhooks (id),
	event_seq    BIGINT NOT NULL,
	event_type   TEXT NOT NULL,
	message_id   TEXT NOT NULL,
	payload      {{BYTES}} NOT NULL,
	state        TEXT NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt BIGINT NOT NULL,
	last_status  INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT '',
	created_at   BIGINT NOT NULL,
	updated_at   BIGINT NOT NULL,
	UNIQUE (webhook_id, event_seq)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt, id);

CREATE TABLE webhook_attempts (
	delivery_id BIGINT NOT NULL REFERENCES webhook_deliveries (id),
	n           INTEGER NOT NULL,
	at          BIGINT NOT NULL,
	status      INTEGER NOT NULL,
	latency_us  BIGINT NOT NULL,
	error       TEXT NOT NULL,
	response    {{BYTES}},
	PRIMARY KEY (delivery_id, n)
);

CREATE TABLE incidents (
	id            TEXT PRIMARY KEY,
	title         TEXT NOT NULL,
	summary       TEXT NOT NULL,
	severity      TEXT NOT NULL,
	state         TEXT NOT NULL,
	opened_by     TEXT NOT NULL,
	opened_at     BIGINT NOT NULL,
	contained_at  BIGINT NOT NULL DEFAULT 0,
	remediated_at BIGINT NOT NULL DEFAULT 0,
	closed_at     BIGINT NOT NULL DEFAULT 0,
	closed_by     TEXT NOT NULL DEFAULT '',
	postmortem    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX incidents_state ON incidents (state, opened_at);

CREATE TABLE incident_versions (
	incident_id TEXT NOT NULL REFERENCES incidents (id),
	version_id  TEXT NOT NULL REFERENCES versions (id),
	source      TEXT NOT NULL,
	added_by    TEXT NOT NULL,
	added_at    BIGINT NOT NULL,
	PRIMARY KEY (incident_id, version_id)
);

CREATE TABLE hunt_rules (
	id          TEXT PRIMARY KEY,
	incident_id TEXT NOT NULL DEFAULT '',
	kind        TEXT NOT NULL,
	pattern     TEXT NOT NULL,
	description TEXT NOT NULL,
	created_by  TEXT NOT NULL,
	created_at  BIGINT NOT NULL,
	disabled_at BIGINT NOT NULL DEFAULT 0
);

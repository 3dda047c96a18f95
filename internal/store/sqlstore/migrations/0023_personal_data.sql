-- Personal data retention, completed (issue 20 item 4).
--
-- Audit events sealed with hash version 3 also cover HMAC commitments to
-- their reason and data, each under its own salt, so that the retention
-- purge can replace a reason or data that names a person (the token's
-- holder in token.create, the hosts of a health quorum, a steward's note)
-- without breaking the chain. Rows written before keep NULL salts.
ALTER TABLE audit_events ADD COLUMN reason_salt {{BYTES}};
ALTER TABLE audit_events ADD COLUMN data_salt {{BYTES}};

-- Settings every process sharing the database must agree on, recorded
-- once in the database rather than in each process's flags: the personal
-- data retention (`personal-data-retention`, in days), and that the first
-- admin token was made (`admin-bootstrapped`), so that a process started
-- on a data folder without admin.token does not mint another admin.
-- Every change goes with an audit event.
CREATE TABLE settings (
	name       TEXT PRIMARY KEY,
	value      TEXT NOT NULL,
	updated_at BIGINT NOT NULL
){{WITHOUT_ROWID}};

-- An installation older than this migration has bootstrapped its admin
-- if it has, or had, an admin token: one in the table, or a token.create
-- event in the trail (its row may have been purged).
INSERT INTO settings (name, value, updated_at)
	SELECT 'admin-bootstrapped', 'before migration 0023', 0
	WHERE EXISTS (SELECT 1 FROM tokens WHERE role = 'admin')
	   OR EXISTS (SELECT 1 FROM audit_events WHERE action = 'token.create');

-- The retention purge deletes health reports and delivered or dead
-- webhook deliveries older than the retention by these times.
CREATE INDEX health_reports_received ON health_reports (received_at);
CREATE INDEX health_votes_last ON health_votes (last_at);
CREATE INDEX webhook_deliveries_updated ON webhook_deliveries (updated_at);

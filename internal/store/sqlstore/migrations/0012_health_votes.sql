-- Host health by quorum: one row per version, kind ("host" or "steward")
-- and voter (the token's subject). A host's repeated failing reports move
-- last_at on and count in reports, but never add a row, so a version is
-- suspended marketplace-wide only when enough distinct hosts (or a steward)
-- stand against it within the policy's window.
CREATE TABLE health_votes (
	version_id TEXT NOT NULL REFERENCES versions (id),
	kind       TEXT NOT NULL,
	voter      TEXT NOT NULL,
	first_at   BIGINT NOT NULL,
	last_at    BIGINT NOT NULL,
	reports    BIGINT NOT NULL,
	reason     TEXT NOT NULL,
	PRIMARY KEY (version_id, kind, voter)
){{WITHOUT_ROWID}};
CREATE INDEX health_votes_recent ON health_votes (version_id, last_at);

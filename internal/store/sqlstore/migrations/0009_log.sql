-- The transparency log, shared by many processes (issue 17).
--
-- A trust event is sequenced (given its log_index) in the database before
-- any tile is written, so every integrator computes the same tree from the
-- same entries and two different checkpoints of one size cannot exist.
-- log_state is the tree integrated so far: one row, which the integrator
-- locks while it writes tiles (PostgreSQL) or compares and sets (SQLite,
-- one process). size is -1 until the first start records the tree it
-- found in storage.
CREATE TABLE log_state (
	id         BIGINT PRIMARY KEY CHECK (id = 1),
	size       BIGINT NOT NULL,
	root       {{BYTES}},
	checkpoint {{BYTES}},
	updated_at BIGINT NOT NULL
);
INSERT INTO log_state (id, size, updated_at) VALUES (1, -1, 0);

-- A log index names one entry.
CREATE UNIQUE INDEX trust_events_log_index ON trust_events (log_index) WHERE log_index >= 0;

-- A lease elects the one process doing work only one may do at a time
-- (integrating the log). expires_at is on the database's clock, so the
-- processes' clocks need not agree.
CREATE TABLE leases (
	name       TEXT PRIMARY KEY,
	holder     TEXT NOT NULL,
	expires_at BIGINT NOT NULL
);

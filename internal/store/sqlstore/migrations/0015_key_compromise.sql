-- A publisher key reported stolen (issue 19 item 7). compromised_at is 0
-- unless it was; the key is retired at the same time, and unlike a retired
-- key's, its past signatures are no longer trusted (the thief can claim
-- any signing time), so the versions signed only by it are suspended.
ALTER TABLE publisher_keys ADD COLUMN compromised_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE publisher_keys ADD COLUMN compromised_by TEXT NOT NULL DEFAULT '';
ALTER TABLE publisher_keys ADD COLUMN compromised_reason TEXT NOT NULL DEFAULT '';

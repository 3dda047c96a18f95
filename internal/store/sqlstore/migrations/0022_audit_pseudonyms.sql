-- Audit events sealed with hash version 2 (issue 20 item 4): the chain
-- covers HMAC commitments to actor and subject, keyed by a random salt per
-- field, so that a retention purge can replace a person's identifiers by
-- their commitments (and drop the salt) while `audit verify` still holds.
-- Rows written before this migration keep hash_version 0 (the original
-- hash) and NULL salts. See docs/decisions.md.
ALTER TABLE audit_events ADD COLUMN hash_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit_events ADD COLUMN actor_salt {{BYTES}};
ALTER TABLE audit_events ADD COLUMN subject_salt {{BYTES}};

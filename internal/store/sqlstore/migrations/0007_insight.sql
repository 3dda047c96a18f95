-- The dashboard measures stages of the lifecycle from the transitions in
-- the audit trail (store.InsightStore.StageTimes); these find them without
-- reading the whole trail.
CREATE INDEX audit_events_new_state ON audit_events (new_state, time);
CREATE INDEX audit_events_old_state ON audit_events (old_state, time);

-- Background jobs moved onto River (riverqueue), whose own migrations
-- create its tables (river_job and the rest) when the store opens; the
-- home-made job table is gone. Jobs it still held are given back by
-- pipeline.Reconcile (a version in a pipeline state without a job) and by
-- the revalidation schedules (due revalidations are queued again).
DROP TABLE jobs;

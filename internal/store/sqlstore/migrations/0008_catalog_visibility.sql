-- The catalog keeps the plugins a caller may read in the query, before the
-- page is cut (a plugin with a released version, store.Catalog.ListPlugins
-- with a reader); this index answers "has this plugin a version in one of
-- these states" without reading its versions' rows, and serves the newest
-- version in some states that the catalog entries show.
CREATE INDEX versions_plugin_state ON versions (plugin_id, state, created_at);

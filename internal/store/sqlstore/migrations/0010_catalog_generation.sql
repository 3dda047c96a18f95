-- The catalog's generation: a number that every change to a plugin or a
-- version row raises, in the transaction that makes the change. Triggers
-- raise it, so that no write path can forget to. A server caches what
-- anonymous callers read (catalog pages, released packages) under the
-- generation it read them at, and serves the copy only while the
-- generation is unchanged (store.Catalog.CatalogGeneration). On
-- PostgreSQL the triggers also NOTIFY gatehouse_catalog at commit, so
-- that servers learn of a change without asking for the number.
CREATE TABLE catalog_generation (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	gen BIGINT NOT NULL
);
INSERT INTO catalog_generation (id, gen) VALUES (1, 0);
{{CATALOG_TRIGGERS}}

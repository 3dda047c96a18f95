-- The SBOMs the marketplace emits for a certified version (issue 22 item
-- 3): a CycloneDX 1.6 and an SPDX 2.3 JSON document, made once at the
-- first certification that lists them (or the first renewal of a version
-- certified before they existed) and kept, since every later certificate
-- lists the same digests. In the database, beside the certificates, so
-- that a document and the certificate naming it are stored in one
-- transaction; at most sqlstore.MaxSBOM bytes each.
CREATE TABLE version_sboms (
	version_id TEXT NOT NULL REFERENCES versions (id),
	format     TEXT NOT NULL,
	digest     TEXT NOT NULL,
	document   {{BYTES}} NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (version_id, format)
);

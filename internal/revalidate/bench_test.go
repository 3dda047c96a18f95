package revalidate_test

import (
	"archive/zip"
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/revalidate"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/store/postgres"
	"gatehouse.dev/gatehouse/internal/store/postgres/pgtest"
	"gatehouse.dev/gatehouse/internal/store/sqlite"
	"gatehouse.dev/gatehouse/internal/vulndb"
)

// The registry BenchmarkAffected searches: 100,000 certified versions of
// 1,000 plugins, each shipping 50 Go modules drawn from 5,000, so one
// module is shipped by 1,000 versions at ten different module versions.
const (
	benchVersions   = 100_000
	benchPlugins    = 1_000
	benchComponents = 50
	benchModules    = 5_000
)

// seedSQLite and seedPostgres fill the registry with set-based INSERT …
// SELECT statements (a recursive CTE, generate_series), so five million
// index rows take one statement rather than five million round trips. The
// rows are generated in index order (module by module), and the index by
// version is built after the load, not row by row. Module n is shipped by
// versions i = (n - 100j) mod 5000 + 5000k, for j < 50 and k < 20, so each
// version ships 50 distinct modules; version i ships them at
// v1.((i / 100) mod 10).0.
var seedSQLite = []string{
	`INSERT INTO namespaces (name, owners, created_at) VALUES ('bench', '["bench"]', 1)`,
	`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999)
	 INSERT INTO plugins (id, namespace, name, display_name, description, latest_version, search_text, updated_at)
	 SELECT 'bench/p' || i, 'bench', 'p' || i, 'P', 'D', '1.0.0', 'bench/p' || i, 1 FROM n`,
	`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99999)
	 INSERT INTO versions (id, plugin_id, version, digest, size, manifest, files, submitter, state, reason, created_at, updated_at)
	 SELECT 'v' || i, 'bench/p' || (i % 1000), '1.' || (i / 1000) || '.0', 'sha256:' || i, 1, X'7B7D', '[]', 'bench', 'certified', 'seeded', 1, 1 FROM n`,
	`DROP INDEX components_version`,
	`WITH RECURSIVE m(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM m WHERE n < 4999),
	 j(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM j WHERE j < 49),
	 k(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM k WHERE k < 19),
	 uses(n, i) AS (SELECT n, (n - 100 * j + 250000) % 5000 + 5000 * k FROM m, j, k)
	 INSERT INTO components (ecosystem, name, version_id, version)
	 SELECT 'Go', printf('example.com/mod%04d', n), 'v' || i, 'v1.' || ((i / 100) % 10) || '.0' FROM uses`,
	`CREATE INDEX components_version ON components (version_id)`,
	`ANALYZE`,
}

var seedPostgres = []string{
	`INSERT INTO namespaces (name, owners, created_at) VALUES ('bench', '["bench"]', 1)`,
	`INSERT INTO plugins (id, namespace, name, display_name, description, latest_version, search_text, updated_at)
	 SELECT 'bench/p' || i, 'bench', 'p' || i, 'P', 'D', '1.0.0', 'bench/p' || i, 1 FROM generate_series(0, 999) i`,
	`INSERT INTO versions (id, plugin_id, version, digest, size, manifest, files, submitter, state, reason, created_at, updated_at)
	 SELECT 'v' || i, 'bench/p' || (i % 1000), '1.' || (i / 1000) || '.0', 'sha256:' || i, 1, '\x7b7d'::bytea, '[]', 'bench', 'certified', 'seeded', 1, 1
	 FROM generate_series(0, 99999) i`,
	`DROP INDEX components_version`,
	`INSERT INTO components (ecosystem, name, version_id, version)
	 SELECT 'Go', 'example.com/mod' || lpad(n::text, 4, '0'), 'v' || i, 'v1.' || ((i / 100) % 10) || '.0'
	 FROM (SELECT n, (n - 100 * j + 250000) % 5000 + 5000 * k AS i
	       FROM generate_series(0, 4999) n, generate_series(0, 49) j, generate_series(0, 19) k) uses`,
	`CREATE INDEX components_version ON components (version_id)`,
	`ANALYZE`,
}

// wantAffected counts, by the seeding formula, the versions shipping
// example.com/mod0042 below v1.5.0.
func wantAffected() int {
	n := 0
	for j := range benchComponents {
		for k := range benchVersions / benchModules {
			if i := (42-100*j+250000)%benchModules + benchModules*k; (i/100)%10 < 5 {
				n++
			}
		}
	}
	return n
}

// advisory is an OSV database holding one advisory: example.com/mod0042
// below v1.5.0.
func advisory(b *testing.B) *vulndb.DB {
	b.Helper()
	rec := `{"schema_version":"1.3.1","id":"GO-2099-0042","modified":"2099-01-01T00:00:00Z","summary":"Benchmark advisory",
"affected":[{"package":{"name":"example.com/mod0042","ecosystem":"Go"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.5.0"}]}]}]}`
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	f, _ := zw.CreateHeader(&zip.FileHeader{Name: "GO-2099-0042.json", Method: zip.Deflate, Modified: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)})
	f.Write([]byte(rec))
	zw.Close()
	db, err := vulndb.Import(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		b.Fatal(err)
	}
	return db
}

func benchAffected(b *testing.B, st store.Store, seed []string) {
	ctx := context.Background()
	raw := st.(interface{ DB() *sql.DB }).DB()
	start := time.Now()
	for _, q := range seed {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			b.Fatalf("seeding: %v\n%s", err, q)
		}
	}
	b.Logf("seeded %d versions × %d components in %s", benchVersions, benchComponents, time.Since(start).Round(time.Millisecond))
	db := advisory(b)
	b.ResetTimer()
	var found []revalidate.Affected
	for b.Loop() {
		var err error
		if found, err = revalidate.AffectedVersions(ctx, st, db, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if want := wantAffected(); len(found) != want {
		b.Fatalf("found %d affected versions; want %d", len(found), want)
	}
	b.ReportMetric(float64(len(found)), "affected")
}

func BenchmarkAffected(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchAffected(b, st, seedSQLite)
	})
	b.Run("postgres", func(b *testing.B) {
		st := openPostgres(b)
		benchAffected(b, st, seedPostgres)
	})
}

// openPostgres opens a store in a fresh schema of GATEHOUSE_TEST_POSTGRES,
// dropped when the benchmark ends (as the store's own tests do).
func openPostgres(b *testing.B) store.Store {
	st, err := postgres.Open(context.Background(), pgtest.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

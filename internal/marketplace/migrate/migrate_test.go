package migrate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/certify/certifytest"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/intake"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/marketplace"
	"gatehouse.dev/gatehouse/internal/store/blobtest"
	"gatehouse.dev/gatehouse/internal/store/postgres"
	"gatehouse.dev/gatehouse/internal/store/postgres/pgtest"
	"gatehouse.dev/gatehouse/internal/wasmfile/wasmtest"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/trust"
)

// installation is an embedded installation the tests populate.
type installation struct {
	data      string
	versions  []domain.Version
	certified string // a certified version's id
}

// populate serves nothing but builds, through the marketplace's own
// services, an embedded installation: an admin token, a namespace key,
// several signed submissions vetted and triaged, one approved and
// certified (a certificate, a trust event in the log), a review message.
func populate(t *testing.T, ns string) installation {
	t.Helper()
	ctx := context.Background()
	data := t.TempDir()
	m, err := marketplace.Open(ctx, marketplace.Config{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.EnsureAdminToken(ctx); err != nil {
		t.Fatal(err)
	}
	key := certifytest.PublisherKey(t, m.Store, ns, "alice")
	in := installation{data: data}
	for i := range 4 {
		pkg := testPackage(t, ns+"/hello", fmt.Sprintf("1.0.%d", i))
		env, err := intake.Sign(ctx, key, pkg)
		if err != nil {
			t.Fatal(err)
		}
		sig, _ := trust.MarshalEnvelope(env)
		v, _, err := m.Intake.SubmitSigned(ctx, domain.Principal{Subject: "alice", Role: domain.RolePublisher}, bytes.NewReader(pkg), sig)
		if err != nil {
			t.Fatal(err)
		}
		in.versions = append(in.versions, v)
	}
	if err := m.Pipeline.RunPending(ctx); err != nil {
		t.Fatal(err)
	}
	reviewer := domain.Principal{Subject: "bob", Role: domain.RoleReviewer}
	for _, v := range in.versions {
		got, err := m.Store.GetVersion(ctx, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != lifecycle.InReview {
			continue
		}
		if _, err := m.Review.Comment(ctx, reviewer, v.ID, "looks fine"); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Review.Approve(ctx, reviewer, v.ID, []string{"kv:read"}, ""); err != nil {
			t.Fatal(err)
		}
		if err := m.Pipeline.RunPending(ctx); err != nil {
			t.Fatal(err)
		}
		got, _ = m.Store.GetVersion(ctx, v.ID)
		if got.State == lifecycle.Certified {
			in.certified = v.ID
			break
		}
	}
	if in.certified == "" {
		t.Fatal("no version was certified")
	}
	if _, err := m.Trust.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	return in
}

func testPackage(t *testing.T, id, version string) []byte {
	t.Helper()
	man := fmt.Sprintf(`{"manifestVersion":1,"id":%q,"version":%q,"name":"H","description":"H.","owners":[{"name":"A","email":"a@example.com"}],"license":"MIT","runtime":{"module":"plugin.wasm","exports":["handle"],"hostApi":"^1.0.0"},"permissions":["kv:read"]}`, id, version)
	var buf bytes.Buffer
	if _, err := pkgfile.Write(&buf, []pkgfile.File{{Path: "manifest.json", Data: []byte(man)}, {Path: "plugin.wasm", Data: wasmtest.Handle}}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fileBlobs is a target blob store in a fresh local folder.
func fileBlobs(t *testing.T) string { return "file://" + filepath.ToSlash(t.TempDir()) }

// counts returns every copied table's row count in the target.
func counts(t *testing.T, dbURL string, tables []TableReport) map[string]int64 {
	t.Helper()
	st, err := postgres.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	db := st.DB()
	out := map[string]int64{}
	for _, tb := range tables {
		var n int64
		if err := db.QueryRow(`SELECT count(*) FROM ` + quote(tb.Name)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[tb.Name] = n
	}
	return out
}

// TestMigrate copies a populated embedded installation into a fresh
// PostgreSQL schema and an S3 bucket prefix; the target then opens as a
// worker would (its log checked against the database and the keys), every
// row count and the audit chain match, a new row gets a new id, and a
// second run copies nothing again.
func TestMigrate(t *testing.T) {
	ctx := context.Background()
	dbURL, blobsURL := pgtest.URL(t), blobtest.S3URL(t)
	src := populate(t, "acme")
	rep, err := Run(ctx, Config{Data: src.data, DatabaseURL: dbURL, BlobsURL: blobsURL, BatchRows: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report: %+v", rep)
	if rep.Resumed || rep.Blobs < len(src.versions) || rep.BlobsSkipped != 0 || rep.LogSize < 1 || rep.Versions != len(src.versions) {
		t.Errorf("report = %+v", rep)
	}
	for _, tb := range rep.Tables {
		if strings.HasPrefix(tb.Name, "river_") || tb.Name == "schema_migrations" || tb.Name == "leases" {
			t.Errorf("table %s was copied", tb.Name)
		}
	}
	if rep.Tables[0].Name != "audit_events" {
		t.Errorf("the first table copied is %s, want audit_events", rep.Tables[0].Name)
	}
	got := counts(t, dbURL, rep.Tables)
	for _, tb := range rep.Tables {
		if got[tb.Name] != tb.Rows {
			t.Errorf("table %s: %d rows in the target, %d in the source", tb.Name, got[tb.Name], tb.Rows)
		}
	}
	for _, name := range []string{"versions", "certificates", "trust_events", "review_messages", "tokens", "publisher_keys", "log_state"} {
		if got[name] == 0 {
			t.Errorf("the populated installation has no rows in %s: the test proves less than it says", name)
		}
	}

	// Run again, it finds everything there and copies nothing.
	again, err := Run(ctx, Config{Data: src.data, DatabaseURL: dbURL, BlobsURL: blobsURL})
	if err != nil {
		t.Fatalf("running a finished migration again: %v", err)
	}
	if !again.Resumed || again.Blobs != 0 || again.BlobsSkipped != rep.Blobs || fmt.Sprint(again.Tables) != fmt.Sprint(rep.Tables) {
		t.Errorf("running a finished migration again: %+v", again)
	}

	// The new deployment opens on the copy, with the keys copied.
	data := t.TempDir()
	copyKeys(t, src.data, data)
	m, err := marketplace.Open(ctx, marketplace.Config{Data: data, DatabaseURL: dbURL, BlobsURL: blobsURL, Role: marketplace.RoleWorker})
	if err != nil {
		t.Fatalf("opening the migrated deployment: %v", err)
	}
	defer m.Close()
	v, err := m.Store.GetVersion(ctx, src.certified)
	if err != nil || v.State != lifecycle.Certified {
		t.Fatalf("the certified version in the target: %+v, %v", v, err)
	}
	if _, err := m.Intake.LoadPackage(ctx, v.Digest); err != nil {
		t.Errorf("its package in the target: %v", err)
	}
	// An identity column's sequence starts after the copied ids.
	if _, err := m.Review.Comment(ctx, domain.Principal{Subject: "bob", Role: domain.RoleReviewer}, src.certified, "after the move"); err != nil {
		t.Errorf("a new review message in the target: %v", err)
	}
	if _, err := m.Trust.Publish(ctx); err != nil {
		t.Errorf("publishing on the target: %v", err)
	}

	// Once the target has been served, it is not an earlier copy any more.
	m.Close()
	again, err = Run(ctx, Config{Data: src.data, DatabaseURL: dbURL, BlobsURL: blobsURL})
	if err == nil {
		t.Fatalf("a second run after the target was served succeeded: %+v", again)
	} else if !errors.Is(err, ErrOtherInstallation) {
		t.Errorf("a second run after the target was served: %v, want ErrOtherInstallation", err)
	}
}

// TestMigrateResumes interrupts a migration half-way through the tables
// and runs it again: the result is the same as an uninterrupted run's, and
// the blobs are not copied twice.
func TestMigrateResumes(t *testing.T) {
	ctx := context.Background()
	src := populate(t, "acme")
	whole, err := Run(ctx, Config{Data: src.data, DatabaseURL: pgtest.URL(t), BlobsURL: fileBlobs(t)})
	if err != nil {
		t.Fatal(err)
	}

	dbURL, blobsURL := pgtest.URL(t), fileBlobs(t)
	stop := errors.New("interrupted")
	half := whole.Tables[len(whole.Tables)/2].Name
	_, err = Run(ctx, Config{Data: src.data, DatabaseURL: dbURL, BlobsURL: blobsURL, BatchRows: 2, afterTable: func(name string) error {
		if name == half {
			return stop
		}
		return nil
	}})
	if !errors.Is(err, stop) {
		t.Fatalf("the interrupted run: %v", err)
	}
	rep, err := Run(ctx, Config{Data: src.data, DatabaseURL: dbURL, BlobsURL: blobsURL, BatchRows: 2})
	if err != nil {
		t.Fatalf("the resumed run: %v", err)
	}
	if !rep.Resumed || rep.Blobs != 0 || rep.BlobsSkipped != whole.Blobs {
		t.Errorf("resumed report = %+v; want resumed, no blob copied again, %d skipped", rep, whole.Blobs)
	}
	if rep.AuditHead != whole.AuditHead || rep.AuditEvents != whole.AuditEvents || rep.LogSize != whole.LogSize {
		t.Errorf("resumed: audit %d %s, log %d; uninterrupted: audit %d %s, log %d", rep.AuditEvents, rep.AuditHead, rep.LogSize, whole.AuditEvents, whole.AuditHead, whole.LogSize)
	}
	if fmt.Sprint(rep.Tables) != fmt.Sprint(whole.Tables) {
		t.Errorf("resumed tables %v, uninterrupted %v", rep.Tables, whole.Tables)
	}
	got := counts(t, dbURL, rep.Tables)
	for _, tb := range whole.Tables {
		if got[tb.Name] != tb.Rows {
			t.Errorf("table %s: %d rows after resuming, %d in the source", tb.Name, got[tb.Name], tb.Rows)
		}
	}
}

// TestMigrateRefusesAnotherInstallation: a target holding another
// installation (its database, or only its log in the bucket) is refused
// before anything is written to it.
func TestMigrateRefusesAnotherInstallation(t *testing.T) {
	ctx := context.Background()
	a, b := populate(t, "acme"), populate(t, "other")
	dbURL, blobsURL := pgtest.URL(t), fileBlobs(t)
	if _, err := Run(ctx, Config{Data: a.data, DatabaseURL: dbURL, BlobsURL: blobsURL}); err != nil {
		t.Fatal(err)
	}
	before := counts(t, dbURL, []TableReport{{Name: "audit_events"}, {Name: "versions"}})
	_, err := Run(ctx, Config{Data: b.data, DatabaseURL: dbURL, BlobsURL: fileBlobs(t)})
	if !errors.Is(err, ErrOtherInstallation) || !strings.Contains(err.Error(), "empty database") {
		t.Fatalf("migrating into another installation's database: %v", err)
	}
	if after := counts(t, dbURL, []TableReport{{Name: "audit_events"}, {Name: "versions"}}); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the refused run wrote rows: %v, before %v", after, before)
	}
	// An empty database, but a bucket prefix holding the other log.
	_, err = Run(ctx, Config{Data: b.data, DatabaseURL: pgtest.URL(t), BlobsURL: blobsURL})
	if !errors.Is(err, ErrOtherInstallation) || !strings.Contains(err.Error(), "log") {
		t.Fatalf("migrating into another installation's bucket: %v", err)
	}
}

// TestMigrateRefusesCorruptBlob: a source blob whose bytes no longer hash
// to its name stops the migration, naming it, and is not stored.
func TestMigrateRefusesCorruptBlob(t *testing.T) {
	ctx := context.Background()
	src := populate(t, "acme")
	digest := src.versions[1].Digest
	hex := strings.TrimPrefix(digest, "sha256:")
	path := filepath.Join(src.data, "blobs", "sha256", hex[:2], hex[2:])
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	blobsURL := fileBlobs(t)
	_, err = Run(ctx, Config{Data: src.data, DatabaseURL: pgtest.URL(t), BlobsURL: blobsURL})
	if err == nil || !strings.Contains(err.Error(), digest) || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("migrating a corrupt blob: %v, want an error naming %s", err, digest)
	}
	if _, err := os.Stat(filepath.Join(strings.TrimPrefix(blobsURL, "file://"), "sha256", hex[:2], hex[2:])); err == nil {
		t.Error("the corrupt blob was stored in the target")
	}
}

// TestMigrateRefusesServedFolder: a data folder a server holds is not
// migrated.
func TestMigrateRefusesServedFolder(t *testing.T) {
	src := populate(t, "acme")
	lock, err := marketplace.LockData(src.data)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	_, err = Run(context.Background(), Config{Data: src.data, DatabaseURL: "postgres://unused@127.0.0.1:1/x", BlobsURL: fileBlobs(t)})
	if !errors.Is(err, ErrSourceInUse) || !strings.Contains(err.Error(), "stop `gatehouse serve`") {
		t.Fatalf("migrating a served folder: %v", err)
	}
}

func copyKeys(t *testing.T, from, to string) {
	t.Helper()
	for _, rel := range []string{"keys/marketplace.key", "keys/marketplace.pub", "keys/log.key", "keys/log.pub", "keys/keyring.json", "web-session.key"} {
		b, err := os.ReadFile(filepath.Join(from, rel))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(to, filepath.Dir(rel)), 0o700)
		if err := os.WriteFile(filepath.Join(to, rel), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

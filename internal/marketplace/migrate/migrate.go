// Package migrate moves an embedded installation (SQLite and a local data
// folder) up to PostgreSQL and a blob store (an S3-compatible bucket):
// `gatehouse migrate`. It copies every blob, checking its digest; the
// transparency log's files, checking the tree they hold against the signed
// checkpoint and the database's record; and every row of every table,
// reading each batch back; and then verifies the new deployment as its
// processes will see it: the audit chain, every version's package, the
// log.
//
// A migration interrupted anywhere is resumed by running it again: blobs
// the target has are skipped, rows already there are compared and brought
// up to date. A target that holds another installation is refused before
// anything is written to it.
package migrate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/marketplace"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/store/blobfs"
	"gatehouse.dev/gatehouse/internal/store/blobstore"
	"gatehouse.dev/gatehouse/internal/store/postgres"
	"gatehouse.dev/gatehouse/internal/store/sqlite"
	"gatehouse.dev/gatehouse/internal/store/sqlstore"
	"gatehouse.dev/gatehouse/tlog"
)

// Defaults of Config's limits.
const (
	DefaultBatchRows   = 500
	DefaultBatchBytes  = 8 << 20
	DefaultConcurrency = 4
	// maxParams is PostgreSQL's limit on the parameters of one statement.
	maxParams = 65535
)

// ErrSourceInUse is returned when a process serves the data folder.
var ErrSourceInUse = errors.New("the data folder is being served")

// Config says what to migrate where.
type Config struct {
	// Data is the embedded installation's data folder (gatehouse.db,
	// blobs/, log/, keys/).
	Data string
	// DatabaseURL is the target PostgreSQL database (postgres://…); its
	// schema is created or brought up to date first.
	DatabaseURL string
	// BlobsURL is the target blob store (s3://… or file://…), as
	// `gatehouse serve --blobs` takes it.
	BlobsURL string
	// Getenv reads the blob store's credentials (os.Getenv when nil).
	Getenv func(string) string
	// BatchRows and BatchBytes bound one batch of rows: read, written and
	// read back in one transaction. Concurrency bounds the blobs and log
	// files copied at once. Zero means the defaults.
	BatchRows   int
	BatchBytes  int64
	Concurrency int
	// Progress is told what is being done (nil: nothing is reported).
	Progress Progress
	// afterTable, in tests, runs after each table is copied; an error
	// stops the migration there, as an interruption would.
	afterTable func(table string) error
}

// Progress is what a migration reports to: Steps steps, each started with
// Step (which may be called again to update its label) and ended with
// Finish.
type Progress interface {
	Step(format string, args ...any)
	Finish(format string, args ...any)
}

// Steps is how many steps Run reports: checking, blobs, log, rows,
// verifying.
const Steps = 5

type noProgress struct{}

func (noProgress) Step(string, ...any)   {}
func (noProgress) Finish(string, ...any) {}

// Report is what a migration did.
type Report struct {
	// Resumed is true when the target held part of this installation
	// already, from an earlier run.
	Resumed bool
	// Blobs copied, and skipped because the target had them; Bytes copied.
	Blobs, BlobsSkipped int
	Bytes               int64
	// LogFiles is how many of the log's files were copied; LogSize the
	// entries of its tree.
	LogFiles int
	LogSize  int64
	// Tables copied, in the order copied, with their rows.
	Tables []TableReport
	// AuditEvents and AuditHead describe the audit chain as verified on
	// the target.
	AuditEvents int
	AuditHead   string
	// Versions is how many versions the target holds, each with its
	// package present; Pending how many of them are in a pipeline state
	// (the target's worker queues their next step again).
	Versions, Pending int
}

// TableReport is one table's rows.
type TableReport struct {
	Name string
	Rows int64
}

// migration is one run: the source and the target, opened.
type migration struct {
	cfg      Config
	prog     Progress
	src      *sqlstore.Store
	srcBlobs store.BlobStore
	dst      *sqlstore.Store
	dstBlobs store.BlobStore
	tables   []*table
	report   Report
	// srcAudit is the source's audit chain, verified; log the log's keys;
	// srcLog the source log's checkpoint, verified.
	srcAudit audit.Report
	log      *logKeys
	srcLog   tlog.Checkpoint
	// lastTick is when tick last reported, under tickMu.
	tickMu   sync.Mutex
	lastTick time.Time
}

// tick updates the current step's label, at most once a second.
func (m *migration) tick(format string, args ...any) {
	m.tickMu.Lock()
	defer m.tickMu.Unlock()
	if time.Since(m.lastTick) < time.Second {
		return
	}
	m.lastTick = time.Now()
	m.prog.Step(format, args...)
}

// Run migrates cfg.Data into cfg.DatabaseURL and cfg.BlobsURL. It holds
// the data folder's lock throughout, so it refuses to run while a server
// serves the folder, and no server can start on it until it is done.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.Data == "" || cfg.DatabaseURL == "" || cfg.BlobsURL == "" {
		return Report{}, errors.New("migrate needs the data folder, the target database URL (postgres://…) and the target blob store URL (s3://…)")
	}
	if cfg.BatchRows <= 0 {
		cfg.BatchRows = DefaultBatchRows
	}
	if cfg.BatchBytes <= 0 {
		cfg.BatchBytes = DefaultBatchBytes
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	m := &migration{cfg: cfg, prog: cfg.Progress}
	if m.prog == nil {
		m.prog = noProgress{}
	}
	dbPath := filepath.Join(cfg.Data, "gatehouse.db")
	if _, err := os.Stat(dbPath); err != nil {
		return Report{}, fmt.Errorf("%s holds no embedded Gatehouse installation (no gatehouse.db): %w", cfg.Data, err)
	}
	lock, err := marketplace.LockData(cfg.Data)
	if errors.Is(err, marketplace.ErrDataInUse) {
		return Report{}, fmt.Errorf("%w (%s): migrate copies a stopped installation; stop `gatehouse serve` on it, then run migrate again", ErrSourceInUse, cfg.Data)
	}
	if err != nil {
		return Report{}, err
	}
	defer lock.Close()
	if err := m.open(ctx); err != nil {
		m.close()
		return Report{}, err
	}
	defer m.close()
	steps := []func(context.Context) error{m.check, m.copyBlobs, m.copyLog, m.copyRows, m.verify}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return m.report, err
		}
	}
	return m.report, nil
}

func (m *migration) open(ctx context.Context) error {
	m.prog.Step("opening %s and the target", m.cfg.Data)
	var err error
	// Opening the store brings its schema up to date, as `serve` would,
	// so both ends have the schema of this binary.
	if m.src, err = sqlite.OpenExisting(ctx, filepath.Join(m.cfg.Data, "gatehouse.db")); err != nil {
		return fmt.Errorf("opening the source: %w", err)
	}
	if m.srcBlobs, err = blobfs.New(filepath.Join(m.cfg.Data, "blobs")); err != nil {
		return fmt.Errorf("opening the source's blobs: %w", err)
	}
	if m.dst, err = postgres.Open(ctx, m.cfg.DatabaseURL); err != nil {
		return fmt.Errorf("opening the target database: %w", err)
	}
	if m.dstBlobs, err = blobstore.Open(ctx, m.cfg.BlobsURL, m.cfg.Getenv); err != nil {
		return fmt.Errorf("opening the target blob store: %w", err)
	}
	return nil
}

func (m *migration) close() {
	if m.src != nil {
		m.src.Close()
	}
	if m.dst != nil {
		m.dst.Close()
	}
}

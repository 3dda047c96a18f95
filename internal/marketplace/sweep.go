package marketplace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/internal/plugindeps"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/analyzers"
	"gatehouse.dev/gatehouse/internal/vet/behaviour"
)

// Temporary folders of the behaviour analyzer. The server names its
// compilation cache after its process id (behaviourCachePrefix, PID, "-",
// random), so a later start can tell a dead process's cache from a live
// one's; the analyzer's per-run folders (behaviourRunPrefix, random) last
// no longer than one analysis.
const (
	behaviourCachePrefix = "gatehouse-behaviour-cache-"
	// publicCachePrefix names the folder, also after the process id, in
	// which the server's public cache keeps large answers (packages).
	publicCachePrefix  = "gatehouse-public-cache-"
	behaviourRunPrefix = "gatehouse-behaviour-"
	// staleRunDir is the age after which a per-run folder, or a cache
	// folder that does not name its process, is a leftover: far beyond the
	// analyzer's timeout.
	staleRunDir = 24 * time.Hour
	// maxSweepEntries bounds the entries of the temporary folder one sweep
	// looks at.
	maxSweepEntries = 100_000
)

// runTempPrefixes name the other folders and files that vetting runs and
// uploads make in the temporary folder and remove when done: Go source
// checks, reproducible rebuilds, vulnerability database uploads. They are
// removed once older than staleRunDir.
var runTempPrefixes = []string{behaviourRunPrefix, publicCachePrefix, "gatehouse-source-", "gatehouse-rebuild-", "gatehouse-osv-"}

// pidTempPrefixes name the folders that last as long as their process,
// which names itself after the prefix: one of a dead process is removed
// at the next start, whatever its age.
var pidTempPrefixes = []string{behaviourCachePrefix, publicCachePrefix}

// newPublicCacheDir returns a folder for the server's public cache,
// named after this process and removed by Close (or, if the process is
// killed, by sweepTemp at the next start); "" keeps the cache in memory.
func newPublicCacheDir() string {
	dir, err := os.MkdirTemp("", publicCachePrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return ""
	}
	return dir
}

// newBehaviour returns the behaviour analyzer with a compilation cache
// named after this process, removed by Close; a leftover of a killed
// process is removed by sweepTemp at the next start. deps are the
// certified versions the integration workflows run against; timeout
// bounds one analysis (zero: the analyzer's default).
func newBehaviour(deps plugindeps.Catalog, timeout time.Duration) (vet.Analyzer, string) {
	dir, err := os.MkdirTemp("", behaviourCachePrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return analyzers.NewBehaviour(), ""
	}
	b, err := behaviour.New(behaviour.Options{CacheDir: dir, Dependencies: deps, Timeout: timeout})
	if err != nil {
		os.RemoveAll(dir)
		return analyzers.NewBehaviour(), "" // the stand-in that errors, saying why
	}
	return b, dir
}

// sweepTemp removes what vetting and uploads left in dir (the system's
// temporary folder) and that belongs to processes no longer running: a
// behaviour cache named after a dead process, and anything of
// runTempPrefixes older than staleRunDir.
func sweepTemp(dir string, now time.Time) (removed int, err error) {
	f, err := os.Open(dir)
	if err != nil {
		return 0, err
	}
	names, err := f.Readdirnames(maxSweepEntries)
	f.Close()
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	var errs []error
	for _, name := range names {
		if !slices.ContainsFunc(runTempPrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
			continue
		}
		path := filepath.Join(dir, name)
		info, err := os.Lstat(path)
		if err != nil || !info.IsDir() && !info.Mode().IsRegular() {
			continue
		}
		stale := now.Sub(info.ModTime()) > staleRunDir
		for _, prefix := range pidTempPrefixes {
			if rest, ok := strings.CutPrefix(name, prefix); ok {
				if pid, _, ok := strings.Cut(rest, "-"); ok {
					if n, err := strconv.Atoi(pid); err == nil && n > 0 {
						stale = n != os.Getpid() && !processAlive(n)
					}
				}
			}
		}
		if !stale {
			continue
		}
		if err := os.RemoveAll(path); err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// dataTemps are the temporary files the data folder's writers create
// beside what they replace (vulndb's database and pointer, the
// transparency log's tiles and checkpoint), by folder under the data
// folder. Each is renamed into place or removed at once, so one found at
// start-up is what a killed process left.
var dataTemps = map[string][]string{
	"vulndb": {".vulndb-*.tmp", ".current-*.tmp"},
	LogDir:   {".tmp-*", ".*.tmp*"}, // tlog.DirStorage writes through trust.WriteFileAtomic
}

// sweepDataTemp removes the temporary files of dataTemps older than grace
// from the data folder data, looking at no more than maxSweepEntries
// entries.
func sweepDataTemp(data string, grace time.Duration, now time.Time) (removed int, err error) {
	var errs []error
	seen := 0
	for dir, patterns := range dataTemps {
		root := filepath.Join(data, dir)
		werr := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if seen++; seen > maxSweepEntries {
				return fs.SkipAll
			}
			if !d.Type().IsRegular() {
				return nil
			}
			for _, pat := range patterns {
				if ok, _ := filepath.Match(pat, d.Name()); !ok {
					continue
				}
				if info, err := d.Info(); err != nil || now.Sub(info.ModTime()) < grace {
					return nil
				}
				if err := os.Remove(path); err != nil {
					errs = append(errs, err)
				} else {
					removed++
				}
				return nil
			}
			return nil
		})
		if werr != nil {
			errs = append(errs, werr)
		}
	}
	return removed, errors.Join(errs...)
}

// sweep clears what an interrupted run left behind before the server takes
// requests: staged uploads never committed, blobs no record names, the
// behaviour analyzer's folders of dead processes. Then it gives every
// version a stopped process left mid-way its next step back. grace is how
// old a leftover must be: zero when this process is alone on its store.
func (m *Marketplace) sweep(ctx context.Context, grace time.Duration) error {
	log := m.cfg.Log
	if err := m.Blobs.CleanTmp(ctx, grace); err != nil {
		return err
	}
	if n, err := m.Intake.Sweep(ctx, grace); err != nil {
		return fmt.Errorf("sweeping orphan blobs: %w", err)
	} else if n > 0 {
		log.Warn("removed blobs of interrupted submissions", "count", n)
	}
	if n, err := sweepDataTemp(m.cfg.Data, grace, time.Now()); err != nil {
		log.Warn("removing temporary files of a stopped process", "removed", n, "err", err)
	} else if n > 0 {
		log.Warn("removed temporary files of a stopped process", "count", n)
	}
	if n, err := sweepTemp(os.TempDir(), time.Now()); err != nil {
		log.Warn("removing the behaviour analyzer's leftover folders", "removed", n, "err", err)
	} else if n > 0 {
		log.Warn("removed the behaviour analyzer's folders of stopped processes", "count", n)
	}
	// Reconcile only queues the steps; the worker runs them once the
	// server is up, so a long backlog does not delay start-up.
	n, err := m.Pipeline.Reconcile(ctx, grace)
	if n > 0 {
		log.Warn("resumed versions left mid-way by a stopped process", "count", n)
	}
	if err != nil {
		log.Error("resuming versions left mid-way", "err", err)
	}
	return nil
}

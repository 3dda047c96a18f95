package migrate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/marketplace"
	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/trust"
)

// logKeys checks a copy of the installation's transparency log.
type logKeys struct {
	dir      string // the source's log folder
	signer   note.Signer
	verifier note.Verifier
}

// openLogKeys reads the source log's origin and the log key of the data
// folder.
func openLogKeys(ctx context.Context, data string) (*logKeys, error) {
	dir := filepath.Join(data, marketplace.LogDir)
	signed, err := tlog.DirStorage(dir).ReadFile(ctx, tlog.CheckpointPath)
	if err != nil {
		return nil, fmt.Errorf("the source has no transparency log checkpoint in %s (start `gatehouse serve` on it once to make one): %w", dir, err)
	}
	origin, _, _ := strings.Cut(string(signed), "\n")
	keyPath := filepath.Join(data, marketplace.KeysDir, marketplace.LogKeyFile)
	key, err := trust.LoadSigner(keyPath)
	if err != nil {
		return nil, fmt.Errorf("the source's log key: %w", err)
	}
	ns, err := tlog.NewNoteSigner(origin, key)
	if err != nil {
		return nil, fmt.Errorf("the source's log key %s: %w", keyPath, err)
	}
	vkey, err := tlog.VerifierKey(origin, key.PublicKey())
	if err != nil {
		return nil, err
	}
	v, err := tlog.NewVerifier(vkey)
	if err != nil {
		return nil, err
	}
	return &logKeys{dir: dir, signer: ns, verifier: v}, nil
}

// check verifies the log st holds: its checkpoint is signed by the log
// key, its tiles hold the checkpoint's tree, and the tree is the one the
// database records (state), or extends it (the embedded server wrote the
// files of a tree and stopped before recording it: its next integration
// writes the same files again).
func (k *logKeys) check(ctx context.Context, st tlog.Storage, which string, state domain.LogState) (tlog.Checkpoint, error) {
	signed, err := st.ReadFile(ctx, tlog.CheckpointPath)
	if err != nil {
		return tlog.Checkpoint{}, fmt.Errorf("reading %s log checkpoint: %w", which, err)
	}
	cp, err := tlog.VerifyCheckpoint(signed, k.verifier)
	if err != nil {
		return tlog.Checkpoint{}, fmt.Errorf("%s log checkpoint does not verify with the log key (keys/%s): %w", which, marketplace.LogPubFile, err)
	}
	integ, err := tlog.NewIntegrator(st, k.signer)
	if err != nil {
		return tlog.Checkpoint{}, err
	}
	if err := integ.Verify(ctx, cp); err != nil {
		return tlog.Checkpoint{}, fmt.Errorf("%s log: %w", which, err)
	}
	switch {
	case state.Size < 0:
		return tlog.Checkpoint{}, fmt.Errorf("the source's database records no log yet: start `gatehouse serve` on the data folder once with this version, stop it, and migrate again")
	case cp.Size < uint64(state.Size):
		return tlog.Checkpoint{}, fmt.Errorf("%s log has %d entries, but the database records %d", which, cp.Size, state.Size)
	case cp.Size == uint64(state.Size) && !bytes.Equal(cp.Hash[:], state.Root):
		return tlog.Checkpoint{}, fmt.Errorf("%s log's tree of %d entries is not the one the database records (another root hash)", which, cp.Size)
	}
	return cp, nil
}

// copyLog copies the log's tiles and entry bundles into the target's
// objects under log/, the checkpoint last (a reader never sees a
// checkpoint whose tiles are missing), and checks the copy as check
// checked the source.
func (m *migration) copyLog(ctx context.Context) error {
	m.prog.Step("log: listing %s", m.log.dir)
	var paths []string
	err := filepath.WalkDir(m.log.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(m.log.dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		// Not the checkpoint (last), nor what is not published: the
		// log's lock file, a temporary file a crash left (".name.tmp…").
		if rel == tlog.CheckpointPath || !tlog.PublishedPath(rel) || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		paths = append(paths, rel)
		return nil
	})
	if err != nil {
		return fmt.Errorf("listing the source's log: %w", err)
	}
	src, dst := tlog.DirStorage(m.log.dir), marketplace.ObjectLog(m.dstBlobs)
	done := 0
	err = m.parallel(ctx, len(paths), func(ctx context.Context, i int) error {
		b, err := src.ReadFile(ctx, paths[i])
		if err != nil {
			return fmt.Errorf("reading the source's log file %s: %w", paths[i], err)
		}
		if err := dst.WriteFile(ctx, paths[i], b); err != nil {
			return fmt.Errorf("writing the log file %s to the target: %w", paths[i], err)
		}
		m.tickMu.Lock()
		done++
		n := done
		m.tickMu.Unlock()
		m.tick("log: %d of %d files", n, len(paths))
		return nil
	})
	if err != nil {
		return err
	}
	signed, err := src.ReadFile(ctx, tlog.CheckpointPath)
	if err != nil {
		return err
	}
	if err := dst.WriteFile(ctx, tlog.CheckpointPath, signed); err != nil {
		return fmt.Errorf("writing the log's checkpoint to the target: %w", err)
	}
	m.report.LogFiles = len(paths) + 1
	state, err := m.src.LogState(ctx)
	if err != nil {
		return err
	}
	cp, err := m.log.check(ctx, dst, "the target's", state)
	if err != nil {
		return err
	}
	if cp != m.srcLog {
		return errors.New("the target's log checkpoint is not the source's after the copy")
	}
	m.report.LogSize = int64(cp.Size)
	m.prog.Finish("Copied the transparency log: %d files; the target's tiles hold the tree of %d entries its checkpoint signs", m.report.LogFiles, cp.Size)
	return nil
}

package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"gatehouse.dev/gatehouse/trust"
)

// stateFile is the file in the host's state folder.
const stateFile = "verify-state.json"

// state is what a host remembers between verifications: the newest log
// checkpoint it accepted (so a rolled-back or forked log is caught) and the
// highest revocation list number (so an older list cannot be replayed).
type state struct {
	Checkpoint       string `json:"checkpoint,omitempty"` // signed note
	RevocationNumber uint64 `json:"revocationNumber"`
	// StatusSequences is the highest status feed sequence accepted per
	// environment (issue 18), so an older feed cannot be replayed.
	StatusSequences map[string]uint64 `json:"statusSequences,omitempty"`
}

// lockState takes the state folder's lock, creating the folder, so that
// one verification's read, checks and write of the state are not
// interleaved with another's on the same folder: the one writing last
// would put back an older checkpoint or list number than the other
// accepted, and a replay of those would pass again.
func lockState(ctx context.Context, dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the state folder: %w", err)
	}
	return LockFolder(ctx, dir)
}

func loadState(dir string) (state, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return state{}, nil
	}
	if err != nil {
		return state{}, fmt.Errorf("reading the state folder: %w", err)
	}
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		return state{}, fmt.Errorf("the state file %s is damaged (%v); restore it from a backup rather than deleting it, which would forget the log's history", filepath.Join(dir, stateFile), err)
	}
	return s, nil
}

func saveState(dir string, s state) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the state folder: %w", err)
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := trust.WriteFileAtomic(filepath.Join(dir, stateFile), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing the state folder: %w", err)
	}
	return nil
}

// timeNow is the clock when Options.Now is nil.
var timeNow = time.Now

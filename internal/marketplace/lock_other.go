//go:build !unix

package marketplace

import "os"

// lockData is a no-op where flock is unavailable: run one process per data
// folder.
func lockData(string) (*os.File, error) { return nil, nil }

package cli

import (
	"context"
	"os"
	"path/filepath"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/analyzers"
	"gatehouse.dev/gatehouse/internal/vet/behaviour"
)

// compiledCacheDir is where the command line keeps compiled WebAssembly
// modules between runs: one folder in the user's cache directory
// (os.UserCacheDir, e.g. ~/.cache/gatehouse/compiled), shared by
// `gatehouse run` and `gatehouse vet`, so a second run skips the compile
// and nothing piles up in the temporary folder. It is empty when the
// system names no cache directory.
func compiledCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "gatehouse", "compiled")
}

// vetBehaviour returns the behaviour analyzer for a local vet run and a
// func that releases it. Its compiled modules go to compiledCacheDir; when
// there is none, the analyzer's own temporary folder is removed by the
// release func, so a vet run leaves nothing behind either way.
func vetBehaviour() (vet.Analyzer, func()) {
	opts := behaviour.Options{CacheDir: compiledCacheDir()}
	if opts.CacheDir != "" {
		if err := os.MkdirAll(opts.CacheDir, 0o700); err != nil {
			opts.CacheDir = ""
		}
	}
	b, err := behaviour.New(opts)
	if err != nil {
		// The stand-in reports the error as the check's result.
		return analyzers.NewBehaviour(), func() {}
	}
	return b, func() { b.Close(context.Background()) }
}

package marketplace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"gatehouse.dev/gatehouse/internal/web"
)

// secretFiles are the files of a data folder that hold secrets: the admin
// token, the key that seals webhook secrets, the key that signs session
// cookies, and (in keys/) every private signing key, retired ones included.
func secretFiles(data string) ([]string, error) {
	files := []string{
		filepath.Join(data, AdminTokenFile),
		filepath.Join(data, WebhookKeyFile),
		filepath.Join(data, web.KeyFile),
	}
	entries, err := os.ReadDir(filepath.Join(data, KeysDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading the keys folder: %w", err)
	}
	for _, e := range entries {
		if n := e.Name(); strings.HasSuffix(n, ".key") || strings.HasSuffix(n, ".key.retired") {
			files = append(files, filepath.Join(data, KeysDir, n))
		}
	}
	return files, nil
}

// CheckSecretModes refuses a data folder whose secret files group or other
// users may read or write, naming the file, its mode and the chmod that
// fixes it. Files that do not exist yet are created with mode 0600 later.
func CheckSecretModes(data string) error {
	if runtime.GOOS == "windows" {
		return nil // no Unix modes; protect the folder with ACLs
	}
	files, err := secretFiles(data)
	if err != nil {
		return err
	}
	var bad []string
	for _, f := range files {
		fi, err := os.Lstat(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			bad = append(bad, fmt.Sprintf("%s has mode %04o, so other users can read or change it; run `chmod 600 %s`", f, fi.Mode().Perm(), f))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("refusing to start: %s (and replace the secret if others could have read it)", strings.Join(bad, "; "))
	}
	return nil
}

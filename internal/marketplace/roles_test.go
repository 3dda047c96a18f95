package marketplace_test

import (
	"context"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/marketplace"
)

// TestRolesNeedPostgres: the API and worker roles run beside other
// processes, which the embedded SQLite store cannot serve; an unknown role
// is refused, naming the ones there are.
func TestRolesNeedPostgres(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		role marketplace.Role
		want string
	}{
		{marketplace.RoleAPI, "--database postgres://"},
		{marketplace.RoleWorker, "--database postgres://"},
		{"scheduler", "use all, api or worker"},
	} {
		_, err := marketplace.Open(context.Background(), marketplace.Config{Data: t.TempDir(), Role: tt.role})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("role %q: %v, want an error naming %q", tt.role, err, tt.want)
		}
	}
}

// TestEmbeddedDataFolderIsLocked: a second process on an embedded data
// folder is refused, with the way out.
func TestEmbeddedDataFolderIsLocked(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	m, err := marketplace.Open(context.Background(), marketplace.Config{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, err = marketplace.Open(context.Background(), marketplace.Config{Data: data})
	if err == nil || !strings.Contains(err.Error(), "in use by another gatehouse process") {
		t.Fatalf("a second marketplace on one data folder: %v", err)
	}
}

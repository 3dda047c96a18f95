package cli

import (
	"context"
	"net/http/httptest"
	"testing"

	"gatehouse.dev/gatehouse/internal/marketplace"
)

// world is a real marketplace on the embedded default, served over HTTP,
// with the admin's token: what the command tests drive.
type world struct {
	m    *marketplace.Marketplace
	data string
	url  string
	// as runs the command line against the server with the admin token.
	as func(args ...string) (int, string)
}

func newWorld(t *testing.T) *world {
	t.Helper()
	data := t.TempDir()
	m, err := marketplace.Open(context.Background(), marketplace.Config{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if _, err := m.EnsureAdminToken(context.Background()); err != nil {
		t.Fatal(err)
	}
	token, err := marketplace.ReadAdminToken(data)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.Server)
	t.Cleanup(srv.Close)
	return &world{m: m, data: data, url: srv.URL, as: func(args ...string) (int, string) {
		return gh(t, append([]string{"--server", srv.URL, "--token", token}, args...)...)
	}}
}

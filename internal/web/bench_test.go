package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"gatehouse.dev/gatehouse/internal/domain"
)

// benchEnv is a marketplace with n certified plugins.
func benchEnv(b *testing.B, n int) *env {
	e := newEnv(b)
	for i := 0; i < n; i++ {
		v := e.submit(pkg(b, fmt.Sprintf("p%03d", i), "1.0.0", fmt.Sprint(i), false, "kv:read", fmt.Sprintf("net:https://api%d.example", i)))
		if _, err := e.m.Review.Approve(context.Background(), domain.Principal{Subject: "user-reviewer", Role: domain.RoleReviewer}, v.ID, nil, ""); err != nil {
			b.Fatal(err)
		}
	}
	return e
}

func servePage(b *testing.B, h http.Handler, path string) {
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("%s: %d", path, rec.Code)
		}
	}
}

// BenchmarkCatalogPage renders the anonymous catalog of 30 certified
// plugins (one page: each card reads its certificate for badges).
func BenchmarkCatalogPage(b *testing.B) {
	e := benchEnv(b, 30)
	servePage(b, e.m.Server, "/")
}

// BenchmarkPluginPage renders one plugin's public page.
func BenchmarkPluginPage(b *testing.B) {
	e := benchEnv(b, 1)
	servePage(b, e.m.Server, "/plugins/acme/p000")
}

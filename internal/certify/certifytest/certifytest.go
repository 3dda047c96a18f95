// Package certifytest sets up the trust layer for tests of the packages
// that use it: fresh marketplace and log keys, a log in a temporary
// directory, and a certify.Service on the caller's store.
package certifytest

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/certify"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/tlog"
	"gatehouse.dev/gatehouse/trust"
)

// Origin is the test log's origin.
const Origin = "test.example/log"

// Trust is a certifier with its keys and log.
type Trust struct {
	Service   *certify.Service
	Signer    *trust.FileSigner // the marketplace key
	LogSigner *trust.FileSigner
	// LogStorage is the log's storage, the directory LogDir.
	LogStorage tlog.Storage
	LogDir     string
}

// New returns a certifier on st. now is its clock (nil: time.Now). The
// log is kept in a temporary directory.
func New(tb testing.TB, st certify.Records, now func() time.Time) *Trust {
	tb.Helper()
	return WithPackages(tb, st, now, nil)
}

// WithPackages is New with a package loader, so that certificates list
// the SBOMs the certifier emits, as in the marketplace.
func WithPackages(tb testing.TB, st certify.Records, now func() time.Time, packages certify.PackageLoader) *Trust {
	tb.Helper()
	signer, err := trust.GenerateKey(trust.Ed25519)
	if err != nil {
		tb.Fatal(err)
	}
	logSigner, err := trust.GenerateKey(trust.Ed25519)
	if err != nil {
		tb.Fatal(err)
	}
	dir := filepath.Join(tb.TempDir(), "log")
	ls := tlog.DirStorage(dir)
	svc, err := certify.New(context.Background(), certify.Config{Store: st, Signer: signer, LogSigner: logSigner, LogOrigin: Origin, LogStorage: ls, Now: now, Packages: packages})
	if err != nil {
		tb.Fatal(err)
	}
	return &Trust{Service: svc, Signer: signer, LogSigner: logSigner, LogStorage: ls, LogDir: dir}
}

// Registry creates namespaces and registers their publisher keys;
// store.Store is one.
type Registry interface {
	CreateNamespace(ctx context.Context, ns domain.Namespace, ev audit.Event) error
	AddPublisherKey(ctx context.Context, k domain.PublisherKey, entry []byte, ev audit.Event) error
}

// PublisherKey makes a publisher key and registers it on namespace ns
// (creating the namespace, owned by owner, when it does not exist).
func PublisherKey(tb testing.TB, st Registry, ns, owner string) *trust.FileSigner {
	tb.Helper()
	key, err := trust.GenerateKey(trust.Ed25519)
	if err != nil {
		tb.Fatal(err)
	}
	Register(tb, st, ns, owner, key)
	return key
}

// Register registers key on namespace ns, creating the namespace (owned
// by owner) when it does not exist.
func Register(tb testing.TB, st Registry, ns, owner string, key *trust.FileSigner) {
	tb.Helper()
	ctx := context.Background()
	now := time.Now()
	if err := st.CreateNamespace(ctx, domain.Namespace{Name: ns, Owners: []string{owner}, CreatedAt: now},
		audit.Event{Time: now, Actor: owner, Action: audit.NamespaceClaim, Subject: "namespace:" + ns}); err != nil && !isConflict(err) {
		tb.Fatal(err)
	}
	pem, err := key.PublicKey().MarshalPEM()
	if err != nil {
		tb.Fatal(err)
	}
	entry, err := trust.MarshalEvent(trust.Event{Kind: trust.EventPublisherKeyAdded, Time: now.UTC(), Subject: ns, Detail: key.KeyID()})
	if err != nil {
		tb.Fatal(err)
	}
	if err := st.AddPublisherKey(ctx, domain.PublisherKey{ID: key.KeyID(), Namespace: ns, Algorithm: string(key.Algorithm()), PEM: pem, AddedBy: owner, AddedAt: now}, entry,
		audit.Event{Time: now, Actor: owner, Action: audit.PublisherKeyAdded, Subject: "namespace:" + ns, Reason: "key " + key.KeyID()}); err != nil {
		tb.Fatal(err)
	}
}

func isConflict(err error) bool { return errors.Is(err, domain.ErrConflict) }

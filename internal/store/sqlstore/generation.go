package sqlstore

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"gatehouse.dev/gatehouse/internal/store"
)

// CatalogGeneration returns the catalog's generation (migration 0010's
// counter, raised by triggers). When the dialect can listen for the
// triggers' notifications (PostgreSQL), it is the count of those received
// in the current listening session and needs no query; it falls back to
// the counter whenever no session is listening.
func (s *Store) CatalogGeneration(ctx context.Context) (store.Generation, error) {
	if s.d.ListenCatalog != nil {
		s.watchOnce.Do(s.startWatch)
		if g, ok := s.watch.current(); ok {
			return g, nil
		}
	}
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT gen FROM catalog_generation WHERE id = 1`).Scan(&n); err != nil {
		return store.Generation{}, fmt.Errorf("%s: reading the catalog generation: %w", s.d.Name, err)
	}
	return store.Generation{N: n}, nil
}

// Listening checks of an idle session: every catalogPing without a
// notification the connection is pinged, and a ping that takes longer
// than catalogPingTimeout ends the session, so that a connection lost
// silently stops serving a frozen generation within their sum.
const (
	catalogPing        = 5 * time.Second
	catalogPingTimeout = 2 * time.Second
)

// catalogWatch counts the notifications of one listening session.
type catalogWatch struct {
	epoch  atomic.Uint64 // 0 while no session listens
	n      atomic.Int64
	next   uint64 // the last epoch handed out; the watch goroutine's own
	cancel context.CancelFunc
	done   chan struct{}
}

// current is the generation of the listening session, if one listens.
func (w *catalogWatch) current() (store.Generation, bool) {
	e := w.epoch.Load()
	if e == 0 {
		return store.Generation{}, false
	}
	n := w.n.Load()
	// A session that ended between the two loads may have missed a
	// notification: its count is no longer evidence of anything.
	if w.epoch.Load() != e {
		return store.Generation{}, false
	}
	return store.Generation{Epoch: e, N: n}, true
}

// startWatch starts the listening goroutine; Close stops it. It runs on
// first use, so that processes that never ask (workers, the CLI) hold no
// listening connection.
func (s *Store) startWatch() {
	ctx, cancel := context.WithCancel(context.Background())
	s.watch = &catalogWatch{cancel: cancel, done: make(chan struct{})}
	go s.watch.run(ctx, s.d.ListenCatalog)
}

// run keeps a session listening, starting a new one after each failure
// with a backoff of 100 ms doubling to 10 s.
func (w *catalogWatch) run(ctx context.Context, listen func(ctx context.Context, ping, pingTimeout time.Duration, listening, notified func()) error) {
	defer close(w.done)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		started := time.Now()
		_ = listen(ctx, catalogPing, catalogPingTimeout,
			func() {
				// Nothing the previous session counted is comparable
				// with this one's counts.
				w.next++
				w.n.Store(0)
				w.epoch.Store(w.next)
			},
			func() { w.n.Add(1) })
		w.epoch.Store(0)
		if time.Since(started) > time.Minute {
			backoff = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// stop ends the session and waits for the goroutine.
func (w *catalogWatch) stop() {
	w.cancel()
	<-w.done
}

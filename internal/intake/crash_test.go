package intake_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/store"
)

var errKilled = errors.New("the process was killed")

// killedStore is a store whose process dies at one step: once a version
// enters state at, that write is durable and every later write fails, as
// after a kill -9 (a lease taken stays taken; nothing is finished).
type killedStore struct {
	store.Store
	at lifecycle.State
	// inVetting kills it as it records a vetting run instead.
	inVetting bool
	dead      atomic.Bool
}

func (k *killedStore) Transition(ctx context.Context, id string, from, to lifecycle.State, reason string, ev audit.Event) error {
	if k.dead.Load() {
		return errKilled
	}
	if err := k.Store.Transition(ctx, id, from, to, reason, ev); err != nil {
		return err
	}
	if to == k.at {
		k.dead.Store(true)
		return errKilled
	}
	return nil
}

func (k *killedStore) write() error {
	if k.dead.Load() {
		return errKilled
	}
	return nil
}

func (k *killedStore) SaveVetRun(ctx context.Context, r domain.VetRun, ev audit.Event) (domain.VetRun, error) {
	if err := k.write(); err != nil {
		return r, err
	}
	if k.inVetting {
		k.dead.Store(true)
		return r, errKilled
	}
	return k.Store.SaveVetRun(ctx, r, ev)
}

func (k *killedStore) EnqueueJob(ctx context.Context, j domain.Job) (bool, error) {
	if err := k.write(); err != nil {
		return false, err
	}
	return k.Store.EnqueueJob(ctx, j)
}

func (k *killedStore) FinishJob(ctx context.Context, id int64, now time.Time) error {
	if err := k.write(); err != nil {
		return err
	}
	return k.Store.FinishJob(ctx, id, now)
}

func (k *killedStore) RetryJob(ctx context.Context, id int64, lastErr string, at time.Time) error {
	if err := k.write(); err != nil {
		return err
	}
	return k.Store.RetryJob(ctx, id, lastErr, at)
}

func (k *killedStore) FailJob(ctx context.Context, id int64, lastErr string, now time.Time) error {
	if err := k.write(); err != nil {
		return err
	}
	return k.Store.FailJob(ctx, id, lastErr, now)
}

func (k *killedStore) AppendAudit(ctx context.Context, ev audit.Event) error {
	if err := k.write(); err != nil {
		return err
	}
	return k.Store.AppendAudit(ctx, ev)
}

// TestKilledWorkerIsResumed kills the worker while it vets a version
// (holding the job's lease) and right after a version enters triage,
// restarts it
// (pipeline.Reconcile at start-up, alone on the store, then the worker), and checks
// the version reaches review with a resume event.
func TestKilledWorkerIsResumed(t *testing.T) {
	for _, k := range []*killedStore{{at: lifecycle.Vetting, inVetting: true}, {at: lifecycle.Triage}} {
		at := k.at
		t.Run(string(at), func(t *testing.T) {
			svc, st, _ := newService(t)
			ctx := context.Background()
			register(t, st, "k", publisherKey)
			v, _, err := submit(t, svc, makePackage(t, "k/one", "1.0.0", 100))
			if err != nil {
				t.Fatal(err)
			}
			k.Store = st
			if k.inVetting {
				k.at = ""
			}
			svc.Store = k
			newPipeline(svc, k).RunPending(ctx)
			if got, _ := st.GetVersion(ctx, v.ID); got.State != at {
				t.Fatalf("killed in %s, want %s", got.State, at)
			}

			svc.Store = st // the restart
			p := newPipeline(svc, st)
			if _, err := p.Reconcile(ctx, 0); err != nil {
				t.Fatal(err)
			}
			if err := p.RunPending(ctx); err != nil {
				t.Fatal(err)
			}
			got, _ := st.GetVersion(ctx, v.ID)
			if got.State != lifecycle.InReview {
				t.Errorf("after the restart: %s (%s), want %s", got.State, got.Reason, lifecycle.InReview)
			}
			resumes := 0
			st.ScanAudit(ctx, domain.AuditQuery{Subject: "submission:" + v.ID}, func(e audit.Event) error {
				if e.Action == audit.SubmissionResume {
					resumes++
				}
				return nil
			})
			if resumes == 0 {
				t.Errorf("no %s event", audit.SubmissionResume)
			}
		})
	}
}

package intake_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/store"
)

var errKilled = errors.New("the process was killed")

// killedStore is a store whose process dies at one step: once a version
// enters state at, that write is durable and every later write fails, and
// the process's context ends, as after a kill -9 (the job being worked
// stays running in River's table; nothing is finished).
type killedStore struct {
	store.Store
	at lifecycle.State
	// inVetting kills it as it records a vetting run instead.
	inVetting bool
	dead      atomic.Bool
	kill      context.CancelFunc
}

func (k *killedStore) die() {
	k.dead.Store(true)
	k.kill()
}

func (k *killedStore) Transition(ctx context.Context, id string, from, to lifecycle.State, reason string, ev audit.Event) error {
	if k.dead.Load() {
		return errKilled
	}
	if err := k.Store.Transition(ctx, id, from, to, reason, ev); err != nil {
		return err
	}
	if to == k.at {
		k.die()
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
		k.die()
		return r, errKilled
	}
	return k.Store.SaveVetRun(ctx, r, ev)
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
			kctx, kill := context.WithCancel(ctx)
			k.kill = kill
			newPipeline(svc, k).RunPending(kctx)
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

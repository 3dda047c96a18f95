package marketplace_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/certify/certifytest"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/intake"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/marketplace"
	"gatehouse.dev/gatehouse/internal/pipeline"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/triage"
	"gatehouse.dev/gatehouse/pkgfile"
	"gatehouse.dev/gatehouse/trust"
)

// killedVet is the pipeline's vet job as River stores it.
type killedVet struct {
	Version string `json:"version"`
}

func (killedVet) Kind() string { return pipeline.Vet }

// killedWorker is killed while it works a job.
type killedWorker struct {
	river.WorkerDefaults[killedVet]
	kill func()
}

func (w *killedWorker) Work(context.Context, *river.Job[killedVet]) error {
	w.kill()
	return errors.New("killed")
}

// settled reports whether the pipeline is done with a version in s:
// people, time or nothing moves it on from there.
func settled(s lifecycle.State) bool { return lifecycle.MovedBy(s) != lifecycle.Pipeline }

// crashed is a version as a process killed at one point of the pipeline
// leaves it in the store.
type crashed struct {
	name  string
	state lifecycle.State
	// leave adds what the killed process had written besides the state.
	leave func(t *testing.T, ctx context.Context, st store.Store, id string)
	// want is the settled state the version must reach; certified, that
	// it has a certificate (revalidation may suspend it at once).
	want      lifecycle.State
	certified bool
}

// TestRestartResumesEveryUnsettledState kills the server (leaves the
// store as a kill -9 at each step would) with a version in every state
// that no person waits on, restarts it, and checks that each version
// reaches a final or waiting-for-a-person state with a resume event in its
// audit trail.
func TestRestartResumesEveryUnsettledState(t *testing.T) {
	claimJob := func(t *testing.T, ctx context.Context, st store.Store, id string) {
		// The version's vet job, taken by a worker that is then killed
		// while it runs: left running in River's table.
		w := &killedWorker{}
		q, err := st.JobQueue(store.QueueConfig{Name: pipeline.Queue, Workers: []store.Worker{store.Work[killedVet](w)}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := q.Insert(ctx, killedVet{Version: id}, nil); err != nil {
			t.Fatal(err)
		}
		kctx, kill := context.WithCancel(ctx)
		w.kill = kill
		if err := q.RunPending(kctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("the killed worker's run ended with %v", err)
		}
		if running, _ := q.List(ctx, []rivertype.JobState{rivertype.JobStateRunning}, 10); len(running) != 1 {
			t.Fatalf("running jobs after the kill = %+v, want the version's vet job", running)
		}
	}
	vetRun := func(blocked bool) func(t *testing.T, ctx context.Context, st store.Store, id string) {
		return func(t *testing.T, ctx context.Context, st store.Store, id string) {
			if _, err := st.SaveVetRun(ctx, domain.VetRun{VersionID: id, Results: []byte("[]"), Blocked: blocked, Summary: "test run", CreatedAt: time.Now()},
				audit.Event{Time: time.Now(), Actor: "system", Action: audit.SubmissionVet, Subject: "submission:" + id}); err != nil {
				t.Fatal(err)
			}
		}
	}
	verdict := func(t *testing.T, ctx context.Context, st store.Store, id string) {
		body, _ := json.Marshal(triage.Verdict{Outcome: "auto_approved", Tier: "low", CertificateLifetimeDays: 90, PolicyDigest: "sha256:p"})
		if _, err := st.SaveVerdict(ctx, domain.Verdict{VersionID: id, PolicyDigest: "sha256:p", Outcome: "auto_approved", Tier: "low", Body: body, CreatedAt: time.Now()},
			audit.Event{Time: time.Now(), Actor: "system", Action: audit.TriageVerdict, Subject: "submission:" + id}); err != nil {
			t.Fatal(err)
		}
	}
	approved := func(t *testing.T, ctx context.Context, st store.Store, id string) {
		it := domain.ReviewItem{VersionID: id, PluginID: "acme/hello", Tier: "low", ApprovalsRequired: 1, Deadline: time.Now().Add(time.Hour), CreatedAt: time.Now().Add(-time.Second)}
		if err := st.OpenReview(ctx, it, audit.Event{Time: time.Now(), Actor: "system", Action: audit.ReviewOpen, Subject: "submission:" + id}); err != nil {
			t.Fatal(err)
		}
		// The last approval, after which the killed process never certified.
		if _, err := st.AddApproval(ctx, domain.Approval{VersionID: id, Reviewer: "bob", Granted: []string{"kv:read"}, CreatedAt: time.Now()},
			audit.Event{Time: time.Now(), Actor: "bob", Action: audit.ReviewApprove, Subject: "submission:" + id}); err != nil {
			t.Fatal(err)
		}
	}
	cases := []crashed{
		{name: "vetting, its worker killed holding the job", state: lifecycle.Vetting, leave: claimJob},
		{name: "vetting, its job lost", state: lifecycle.Vetting},
		{name: "triage, no vetting run", state: lifecycle.Triage, want: lifecycle.InReview},
		{name: "triage, blocking vetting run", state: lifecycle.Triage, leave: vetRun(true), want: lifecycle.Rejected},
		{name: "triage, passing vetting run", state: lifecycle.Triage, leave: vetRun(false)},
		{name: "auto-approved, not certified", state: lifecycle.AutoApproved, leave: verdict, certified: true},
		{name: "in review, approved, not certified", state: lifecycle.InReview, leave: approved, certified: true},
	}

	// Every state the pipeline moves on has a case, so a new one cannot be
	// left without a resume. Received is the exception: a restart vets it
	// like any new upload (pipeline.RunPending), which TestCrashSafety proves.
	for _, s := range lifecycle.States {
		if lifecycle.MovedBy(s) != lifecycle.Pipeline || s == lifecycle.Received {
			continue
		}
		if !slices.ContainsFunc(cases, func(c crashed) bool { return c.state == s }) {
			t.Errorf("no case leaves a version in %s, which the pipeline moves on: add one", s)
		}
	}

	ctx := context.Background()
	data := t.TempDir()
	m := open(t, data, "")
	key := certifytest.PublisherKey(t, m.Store, "acme", "alice")
	ids := make([]string, len(cases))
	for i, c := range cases {
		ids[i] = storeVersion(t, ctx, m, key, fmt.Sprintf("1.0.%d", i))
		path := []lifecycle.State{lifecycle.Received, lifecycle.Vetting, lifecycle.Triage, lifecycle.AutoApproved}
		if c.state == lifecycle.InReview {
			path[3] = lifecycle.InReview
		}
		for j := 0; path[j] != c.state; j++ {
			if c.state == lifecycle.AutoApproved && path[j] == lifecycle.Triage && c.leave != nil {
				c.leave(t, ctx, m.Store, ids[i]) // the verdict, before the move it decided
			}
			if err := m.Store.Transition(ctx, ids[i], path[j], path[j+1], "test", audit.Event{Time: time.Now(), Actor: "system", Action: audit.SubmissionTransition, Subject: "submission:" + ids[i]}); err != nil {
				t.Fatal(err)
			}
		}
		if c.leave != nil && c.state != lifecycle.AutoApproved {
			c.leave(t, ctx, m.Store, ids[i])
		}
	}
	// A staged upload the killed process never committed.
	staged := filepath.Join(data, "blobs", "tmp", "stage-killed")
	if err := os.WriteFile(staged, []byte("half an upload"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	// The restart.
	m = open(t, data, "")
	defer m.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Serve(sctx, ln) }()
	defer func() {
		stop()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Serve: %v", err)
		}
	}()

	deadline := time.Now().Add(2 * time.Minute)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var v domain.Version
			for {
				v, err = m.Store.GetVersion(ctx, ids[i])
				if err != nil {
					t.Fatal(err)
				}
				_, cerr := m.Trust.LatestCertificate(ctx, ids[i])
				if settled(v.State) && (!c.certified || cerr == nil) || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if !settled(v.State) {
				t.Fatalf("left in %s after the restart: %s", v.State, v.Reason)
			}
			if c.want != "" && v.State != c.want {
				t.Errorf("reached %s (%s), want %s", v.State, v.Reason, c.want)
			}
			if _, err := m.Trust.LatestCertificate(ctx, ids[i]); c.certified && err != nil {
				t.Errorf("reached %s without a certificate: %v", v.State, err)
			}
			var resumes int
			m.Store.ScanAudit(ctx, domain.AuditQuery{Subject: "submission:" + ids[i]}, func(e audit.Event) error {
				if e.Action == audit.SubmissionResume {
					resumes++
				}
				return nil
			})
			if resumes == 0 {
				t.Errorf("no %s event in the audit trail", audit.SubmissionResume)
			}
		})
	}
	if _, err := os.Stat(staged); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the staged upload of the killed process is still there: %v", err)
	}
}

// storeVersion stores a signed package of acme/hello@version and its
// record in state received, as a submission does.
func storeVersion(t *testing.T, ctx context.Context, m *marketplace.Marketplace, key *trust.FileSigner, version string) string {
	t.Helper()
	var buf bytes.Buffer
	man := `{"manifestVersion":1,"id":"acme/hello","version":"` + version + `","name":"H","description":"H.","owners":[{"name":"A","email":"a@example.com"}],"license":"MIT","runtime":{"module":"plugin.wasm","exports":["handle"],"hostApi":"^1.0.0"},"permissions":["kv:read"]}`
	if _, err := pkgfile.Write(&buf, []pkgfile.File{{Path: "manifest.json", Data: []byte(man)}, {Path: "plugin.wasm", Data: []byte("\x00asm\x01\x00\x00\x00")}}); err != nil {
		t.Fatal(err)
	}
	p, err := pkgfile.Read(bytes.NewReader(buf.Bytes()), pkgfile.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	sb, err := m.Blobs.Stage(ctx, bytes.NewReader(buf.Bytes()), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	id := intake.NewSubmissionID()
	v := domain.Version{ID: id, PluginID: "acme/hello", Version: version, Digest: p.Digest, Size: p.Size, Manifest: []byte(man), Submitter: "alice",
		State: lifecycle.Received, Reason: "r", CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if _, _, err := m.Store.CreateVersion(ctx, v, []audit.Event{{Time: time.Now(), Actor: "alice", Action: audit.SubmissionCreate, Subject: "submission:" + id}}); err != nil {
		t.Fatal(err)
	}
	env, err := intake.Sign(ctx, key, buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := trust.MarshalEnvelope(env)
	if err := m.Store.PutSignature(ctx, domain.Signature{VersionID: id, KeyID: key.KeyID(), Envelope: raw, CreatedAt: time.Now()},
		audit.Event{Time: time.Now(), Actor: "alice", Action: audit.SubmissionSignature, Subject: "submission:" + id}); err != nil {
		t.Fatal(err)
	}
	return id
}

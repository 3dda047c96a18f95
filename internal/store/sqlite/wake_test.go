package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"gatehouse.dev/gatehouse/internal/store/riverq"
)

type wakeArgs struct{}

func (wakeArgs) Kind() string { return "wake_test" }

// TestJobsWakeTheirOwnProducer guards the pipeline's hand-offs on SQLite:
// a job this process inserts starts without waiting for any poll. River
// wakes the inserting process's producer only when the driver has no
// listener, and riversqlite's listener is a poll of a table every 50 ms
// (three hand-offs an update each waited up to that). With the fetch
// poll an hour away, the job runs only if the insert woke the producer;
// and no notification row is written for a listener no one runs.
func TestJobsWakeTheirOwnProducer(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", dsn(filepath.Join(t.TempDir(), "jobs.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	driver := localDriver{riversqlite.New(db)}
	if err := riverq.Migrate(ctx, driver); err != nil {
		t.Fatal(err)
	}
	ran := make(chan struct{})
	workers := river.NewWorkers()
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, _ *river.Job[wakeArgs]) error {
		close(ran)
		return nil
	}))
	client, err := river.NewClient(driver, &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 1}},
		Workers:           workers,
		FetchCooldown:     10 * time.Millisecond,
		FetchPollInterval: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer client.Stop(ctx)
	// Past the first fetch River makes at start, so only the insert can
	// wake the producer.
	time.Sleep(100 * time.Millisecond)
	if _, err := client.Insert(ctx, wakeArgs{}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ran:
	case <-time.After(30 * time.Second):
		t.Fatal("the job inserted by this process did not start: the insert did not wake its producer (the next poll is an hour away)")
	}
	var notes int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM river_notification").Scan(&notes); err != nil {
		t.Fatal(err)
	}
	if notes != 0 {
		t.Errorf("the insert wrote %d notification rows for a listener that does not run", notes)
	}
}

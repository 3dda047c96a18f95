package cli

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/internal/marketplace"
	"gatehouse.dev/gatehouse/internal/marketplace/migrate"
)

func migrateCmd(g *globals) *cobra.Command {
	var (
		data, to, blobs    string
		batch, concurrency int
	)
	c := &cobra.Command{
		Use:   "migrate --data DIR --to postgres://… --blobs s3://…",
		Short: "Move an embedded installation (SQLite and its data folder) to PostgreSQL and an S3 bucket, verified; resumable",
		Long: `Migrate copies the embedded installation in --data (stopped: it takes the
folder's lock, so a running ` + "`gatehouse serve`" + ` makes it refuse) into the
PostgreSQL database --to and the blob store --blobs, and verifies the copy:

  - every blob (package, SARIF, SBOM…), streamed, its digest checked; a
    blob the target has already is skipped;
  - the transparency log's files, into the blob store's objects under log/
    (where every process of a scaled-out marketplace reads them), the
    checkpoint last; the copy's checkpoint must verify with the log key,
    its tiles hold the checkpoint's tree, and the database records it;
  - every table's rows, in foreign-key order, each batch read back and
    compared; River's jobs are not copied: the first worker queues again
    the next step of every version the pipeline was moving;
  - then, on the target: the audit chain verifies and ends where the
    source's does, every version's package is there, the log matches.

Run it again after an interruption: it resumes, skipping what is there. A
target that holds another installation is refused before anything is
written to it. The keys stay in the data folder: the new processes need a
copy (the command's last lines say what to do next).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return errors.New("--to names the target PostgreSQL database, e.g. postgres://gatehouse@db/gatehouse")
			}
			if !strings.HasPrefix(to, "postgres://") && !strings.HasPrefix(to, "postgresql://") {
				return errors.New("--to must be a postgres:// URL: migrate moves an installation up to PostgreSQL")
			}
			if batch < 1 || batch > 10000 || concurrency < 1 || concurrency > 64 {
				return errors.New("--batch takes 1 to 10000 rows and --concurrency 1 to 64")
			}
			if blobs == "" {
				return errors.New("--blobs names the target blob store, e.g. s3://BUCKET?endpoint=URL&region=REGION (credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
			}
			rep, err := migrate.Run(cmd.Context(), migrate.Config{
				Data: data, DatabaseURL: to, BlobsURL: blobs, Getenv: g.env.Getenv,
				BatchRows: batch, Concurrency: concurrency,
				Progress: newProgress(cmd.ErrOrStderr(), migrate.Steps),
			})
			if err != nil {
				if errors.Is(err, migrate.ErrOtherInstallation) || errors.Is(err, migrate.ErrSourceInUse) {
					return err
				}
				return fmt.Errorf("%w\nnothing is lost: fix the cause and run the same command again to resume", err)
			}
			printMigrated(cmd, data, to, blobs, rep)
			return nil
		},
	}
	f := c.Flags()
	g.envString(f, &data, "data", "GATEHOUSE_DATA", "./gatehouse-data", "the embedded installation's data folder (stopped)")
	f.StringVar(&to, "to", "", "the target PostgreSQL database, postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=…; its schema is created or brought up to date")
	f.StringVar(&blobs, "blobs", "", "the target blob store: s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION (credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or file:///PATH")
	f.IntVar(&batch, "batch", migrate.DefaultBatchRows, "rows per batch (each batch is written and read back in one transaction; at most 8 MiB is read at once)")
	f.IntVar(&concurrency, "concurrency", migrate.DefaultConcurrency, "blobs and log files copied at once")
	return c
}

// printMigrated says what was copied and what to do next.
func printMigrated(cmd *cobra.Command, data, to, blobs string, rep migrate.Report) {
	out := cmd.OutOrStdout()
	var rows int64
	for _, t := range rep.Tables {
		rows += t.Rows
	}
	how := "Migrated"
	if rep.Resumed {
		how = "Migrated (resuming an earlier run)"
	}
	fmt.Fprintf(out, "%s %s to %s and %s:\n", how, data, showDatabase(to), blobs)
	fmt.Fprintf(out, "  %d rows of %d tables; %d blobs copied (%d bytes), %d already there; a log of %d entries\n",
		rows, len(rep.Tables), rep.Blobs, rep.Bytes, rep.BlobsSkipped, rep.LogSize)
	fmt.Fprintf(out, "  verified on the target: %d audit events (head %s), %d versions each with its package, the log\n",
		rep.AuditEvents, rep.AuditHead, rep.Versions)
	if rep.Pending > 0 {
		fmt.Fprintf(out, "  %d versions were mid-pipeline: the first worker queues their next step again (jobs are not copied)\n", rep.Pending)
	}
	keys := filepath.Join(data, marketplace.KeysDir)
	fmt.Fprintf(out, `
Next:
  1. Copy these into every new process's own data folder (they stay here;
     every process of one marketplace needs the same keys):
       %s/
       %s
       %s/   (the vulnerability database the workers vet with)
  2. Start the new deployment, as many of each as you need, with
     GATEHOUSE_DATABASE set to the --to URL and the AWS_* credentials:
       gatehouse worker --database "$GATEHOUSE_DATABASE" --blobs '%s' --data DIR
       gatehouse serve --role api --database "$GATEHOUSE_DATABASE" --blobs '%s' --data DIR
  3. Check it: gatehouse audit verify --database "$GATEHOUSE_DATABASE"
Do not serve %s again once the new deployment runs: the two would diverge
(keep the folder as a backup).
`, keys, filepath.Join(data, "web-session.key"), filepath.Join(data, "vulndb"), blobs, blobs, data)
}

// showDatabase names a database URL without its password.
func showDatabase(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the PostgreSQL database"
	}
	return u.Redacted() // the password, if any, as xxxxx
}

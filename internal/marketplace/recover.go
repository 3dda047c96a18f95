package marketplace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/store/postgres"
	"gatehouse.dev/gatehouse/internal/store/sqlite"
)

// MaxRecoveryTTL bounds a recovered admin token's lifetime: long enough to
// make proper admin tokens through the API, short enough that a
// break-glass secret left in a terminal's scroll-back soon stops working.
const MaxRecoveryTTL = 7 * 24 * time.Hour

// Recovery is a break-glass admin token's request: who runs it, why, and
// for how long.
type Recovery struct {
	// Data is the embedded installation's data folder; DatabaseURL, when
	// set, names the PostgreSQL database instead.
	Data, DatabaseURL string
	// Operator names the person running the recovery (the audit event's
	// actor is "break-glass:" and this).
	Operator string
	// Reason says why, e.g. the ticket; 10 to 500 characters.
	Reason string
	TTL    time.Duration
}

// RecoveredAdmin is the made token: its secret is shown once.
type RecoveredAdmin struct {
	TokenID   string
	Secret    string
	ExpiresAt time.Time
}

// RecoverAdmin makes an admin token straight in the database, for when
// every admin token is lost (expired, revoked, purged): the start-up
// bootstrap makes the first one only once per database, so nothing else
// would. Running it needs what a manual repair would (the database's
// credentials or the data folder), but unlike a hand-written row it goes
// through the store, with its token.create event in the audit chain,
// naming the operator and the reason, and the token expires within
// MaxRecoveryTTL.
func RecoverAdmin(ctx context.Context, r Recovery) (RecoveredAdmin, error) {
	reason := strings.TrimSpace(r.Reason)
	if n := utf8.RuneCountInString(reason); n < 10 || n > 500 {
		return RecoveredAdmin{}, errors.New("--reason must say why in 10 to 500 characters (e.g. the incident ticket): it goes into the audit trail")
	}
	op := strings.TrimSpace(r.Operator)
	if op == "" || len(op) > 100 || strings.ContainsAny(op, " \t\r\n") {
		return RecoveredAdmin{}, errors.New("--operator must name who runs the recovery (1 to 100 characters, no spaces)")
	}
	if r.TTL <= 0 || r.TTL > MaxRecoveryTTL {
		return RecoveredAdmin{}, fmt.Errorf("--ttl must be positive and at most %s: make lasting admin tokens with `gatehouse token create` once you are in", MaxRecoveryTTL)
	}
	st, err := openStore(ctx, r.Data, r.DatabaseURL)
	if err != nil {
		return RecoveredAdmin{}, err
	}
	defer st.Close()
	now := time.Now()
	t, secret, err := app.NewToken(now, api.TokenRequest{Subject: "break-glass-" + op, Role: "admin", TTL: r.TTL.String()})
	if err != nil {
		return RecoveredAdmin{}, err
	}
	ev := app.TokenEvent(t, "break-glass:"+op, now)
	ev.Reason = reason
	if err := st.CreateToken(ctx, t, ev); err != nil {
		return RecoveredAdmin{}, fmt.Errorf("recording the admin token: %w", err)
	}
	return RecoveredAdmin{TokenID: t.ID, Secret: secret, ExpiresAt: t.ExpiresAt}, nil
}

// openStore opens an existing store: the PostgreSQL database at
// databaseURL or, when that is empty, the SQLite store in the data folder.
func openStore(ctx context.Context, data, databaseURL string) (store.Store, error) {
	if databaseURL != "" {
		return postgres.Open(ctx, databaseURL)
	}
	path := filepath.Join(data, "gatehouse.db")
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no Gatehouse store in %s: %w", data, err)
	}
	return sqlite.OpenExisting(ctx, path)
}

package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// table is one table to copy, as the target's catalog describes it.
type table struct {
	name string
	cols []column
	pk   []int // indexes into cols, in the primary key's order
	// identity is the column PostgreSQL generates (GENERATED ALWAYS AS
	// IDENTITY), or -1: its values are copied (OVERRIDING SYSTEM VALUE)
	// and its sequence set past them afterwards.
	identity int
	refs     []string // tables its foreign keys reference
}

type column struct {
	name string
	typ  string // the target's data_type: bigint, integer, text, bytea, boolean…
}

// skipped are the tables not copied, and why.
var skipped = map[string]string{
	// the target's own migrations filled it
	"schema_migrations": "the target's schema migrations ran on it",
	// process state: the holder named is the embedded server, which is
	// stopped; copying it would only make the target's integrator wait
	// for it to expire
	"leases": "a lease names a process of the old installation",
	// a counter the target's triggers raise as the rows arrive; only
	// its changes mean anything, never its value
	"catalog_generation": "the target's own triggers keep it",
}

// skippedPrefix are River's tables: jobs are not copied. The target's
// worker re-queues the step of every version in a pipeline state
// (pipeline.Reconcile), and River's periodic jobs schedule themselves.
const skippedPrefix = "river_"

func skipTable(name string) bool {
	_, ok := skipped[name]
	return ok || strings.HasPrefix(name, skippedPrefix)
}

// copyable are the column types a value is converted to; any other type
// in the schema stops the migration before it copies anything, rather
// than copying a value wrongly.
var copyable = []string{"bigint", "integer", "smallint", "text", "bytea", "boolean"}

// loadTables reads the tables of the target's schema (the current
// schema), their columns, primary keys and foreign keys, and returns them
// in an order in which every table comes after the tables it references.
func loadTables(ctx context.Context, db *sql.DB) ([]*table, error) {
	byName := map[string]*table{}
	rows, err := db.QueryContext(ctx, `SELECT c.table_name, c.column_name, c.data_type, c.is_identity
		FROM information_schema.columns c JOIN information_schema.tables t
		  ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
		ORDER BY c.table_name, c.ordinal_position`)
	if err != nil {
		return nil, fmt.Errorf("reading the target's schema: %w", err)
	}
	for rows.Next() {
		var tname, cname, typ, ident string
		if err := rows.Scan(&tname, &cname, &typ, &ident); err != nil {
			rows.Close()
			return nil, err
		}
		if skipTable(tname) {
			continue
		}
		t := byName[tname]
		if t == nil {
			t = &table{name: tname, identity: -1}
			byName[tname] = t
		}
		if ident == "YES" {
			t.identity = len(t.cols)
		}
		t.cols = append(t.cols, column{name: cname, typ: typ})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(byName) == 0 {
		return nil, fmt.Errorf("the target database's current schema has no tables")
	}
	rows, err = db.QueryContext(ctx, `SELECT cl.relname, c.contype, a.attname, COALESCE(f.relname, '')
		FROM pg_constraint c
		JOIN pg_class cl ON cl.oid = c.conrelid
		JOIN pg_namespace n ON n.oid = cl.relnamespace
		LEFT JOIN pg_class f ON f.oid = c.confrelid
		CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
		JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
		WHERE n.nspname = current_schema() AND c.contype IN ('p', 'f')
		ORDER BY cl.relname, c.contype, c.conname, k.ord`)
	if err != nil {
		return nil, fmt.Errorf("reading the target's keys: %w", err)
	}
	for rows.Next() {
		var tname, kind, col, ref string
		if err := rows.Scan(&tname, &kind, &col, &ref); err != nil {
			rows.Close()
			return nil, err
		}
		t := byName[tname]
		if t == nil {
			continue
		}
		switch kind {
		case "p":
			i := slices.IndexFunc(t.cols, func(c column) bool { return c.name == col })
			if i < 0 {
				rows.Close()
				return nil, fmt.Errorf("table %s: primary key column %s is not among its columns", tname, col)
			}
			t.pk = append(t.pk, i)
		case "f":
			if ref != tname && !slices.Contains(t.refs, ref) {
				t.refs = append(t.refs, ref)
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, t := range byName {
		if len(t.pk) == 0 {
			return nil, fmt.Errorf("table %s has no primary key, so a resumed migration could not tell which rows it holds", t.name)
		}
		for _, c := range t.cols {
			if !slices.Contains(copyable, c.typ) {
				return nil, fmt.Errorf("column %s.%s has type %s, which migrate does not convert; nothing was copied", t.name, c.name, c.typ)
			}
		}
		for _, r := range t.refs {
			if byName[r] == nil {
				return nil, fmt.Errorf("table %s references %s, which is not copied", t.name, r)
			}
		}
	}
	return order(byName)
}

// order sorts tables so that each comes after the tables it references
// (Kahn's algorithm, by name among equals, so the order is stable), with
// audit_events first: it references nothing, and a target that holds any
// row of an installation then holds its first audit events, by which an
// interrupted migration is recognised when it is resumed.
func order(byName map[string]*table) ([]*table, error) {
	var out []*table
	done := map[string]bool{}
	for len(out) < len(byName) {
		var ready []string
		for name, t := range byName {
			if done[name] {
				continue
			}
			ok := true
			for _, r := range t.refs {
				ok = ok && done[r]
			}
			if ok {
				ready = append(ready, name)
			}
		}
		if len(ready) == 0 {
			return nil, fmt.Errorf("the target's foreign keys form a cycle; no copy order satisfies them")
		}
		sort.Slice(ready, func(i, j int) bool {
			if (ready[i] == auditTable) != (ready[j] == auditTable) {
				return ready[i] == auditTable
			}
			return ready[i] < ready[j]
		})
		// One at a time, so audit_events (ready from the start) is first
		// and ties stay in name order.
		done[ready[0]] = true
		out = append(out, byName[ready[0]])
	}
	return out, nil
}

const auditTable = "audit_events"

// quote quotes an identifier for either database.
func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

func (t *table) colList(prefix string) string {
	parts := make([]string, len(t.cols))
	for i, c := range t.cols {
		parts[i] = prefix + quote(c.name)
	}
	return strings.Join(parts, ", ")
}

func (t *table) pkList() string {
	parts := make([]string, len(t.pk))
	for i, k := range t.pk {
		parts[i] = quote(t.cols[k].name)
	}
	return strings.Join(parts, ", ")
}

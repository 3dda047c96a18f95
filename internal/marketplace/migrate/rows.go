package migrate

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// copyRows copies every table, in foreign-key order.
func (m *migration) copyRows(ctx context.Context) error {
	var total int64
	m.prog.Step("rows: %d tables", len(m.tables))
	for i, t := range m.tables {
		m.tick("rows: table %d of %d, %s", i+1, len(m.tables), t.name)
		n, err := m.copyTable(ctx, t)
		if err != nil {
			return fmt.Errorf("copying table %s: %w", t.name, err)
		}
		total += n
		m.report.Tables = append(m.report.Tables, TableReport{Name: t.name, Rows: n})
		if m.cfg.afterTable != nil {
			if err := m.cfg.afterTable(t.name); err != nil {
				return err
			}
		}
	}
	m.prog.Finish("Copied %d rows of %d tables, each read back and compared", total, len(m.tables))
	return nil
}

// copyTable copies t's rows in batches in primary-key order, each batch
// written and read back in one transaction, and returns how many rows the
// source has. A row the target has already (an earlier, interrupted run)
// is brought up to date rather than duplicated: the source is the truth,
// and check made sure the target is an earlier copy of it.
func (m *migration) copyTable(ctx context.Context, t *table) (int64, error) {
	src, dst := m.src.DB(), m.dst.DB()
	var want int64
	if err := src.QueryRowContext(ctx, `SELECT count(*) FROM `+quote(t.name)).Scan(&want); err != nil {
		return 0, fmt.Errorf("counting the source's rows: %w", err)
	}
	limit := min(m.cfg.BatchRows, maxParams/len(t.cols))
	var (
		after  []any // the last key copied, as the source holds it
		copied int64
	)
	for {
		batch, keys, err := m.readBatch(ctx, src, t, after, limit)
		if err != nil {
			return copied, fmt.Errorf("reading the source: %w", err)
		}
		if len(batch) == 0 {
			break
		}
		if err := writeBatch(ctx, dst, t, batch); err != nil {
			return copied, err
		}
		copied += int64(len(batch))
		after = keys
		m.tick("rows: %s, %d of %d", t.name, copied, want)
	}
	var got int64
	if err := dst.QueryRowContext(ctx, `SELECT count(*) FROM `+quote(t.name)).Scan(&got); err != nil {
		return copied, fmt.Errorf("counting the target's rows: %w", err)
	}
	if got != want || copied != want {
		return copied, fmt.Errorf("the source has %d rows, %d were copied and the target has %d: the target holds rows the source does not (was the source served again after an earlier migrate?); migrate into an empty database", want, copied, got)
	}
	if t.identity >= 0 {
		// The next generated value must come after every copied one.
		col := t.cols[t.identity].name
		_, err := dst.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence($1, $2), m) FROM (SELECT max(`+quote(col)+`) AS m FROM `+quote(t.name)+`) s WHERE m IS NOT NULL`,
			quote(t.name), col)
		if err != nil {
			return copied, fmt.Errorf("setting the sequence of %s.%s past the copied rows: %w", t.name, col, err)
		}
	}
	return want, nil
}

// readBatch reads up to limit rows after the key after (all from the
// start when nil), fewer when they pass the batch's byte limit, converted
// to the target's types; it also returns the last row's key as the source
// holds it, to continue from.
func (m *migration) readBatch(ctx context.Context, src *sql.DB, t *table, after []any, limit int) ([][]any, []any, error) {
	q := `SELECT ` + t.colList("") + ` FROM ` + quote(t.name)
	pk := "(" + t.pkList() + ")"
	args := after
	if after != nil {
		q += ` WHERE ` + pk + ` > (` + strings.TrimSuffix(strings.Repeat("?, ", len(after)), ", ") + `)`
	}
	q += ` ORDER BY ` + t.pkList() + ` LIMIT ` + strconv.Itoa(limit)
	rows, err := src.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var (
		batch [][]any
		last  []any
		size  int64
	)
	for rows.Next() {
		raw := make([]any, len(t.cols))
		ptrs := make([]any, len(raw))
		for i := range raw {
			ptrs[i] = &raw[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		row := make([]any, len(raw))
		for i, v := range raw {
			c := t.cols[i]
			if row[i], err = convert(v, c.typ); err != nil {
				return nil, nil, fmt.Errorf("row %s, column %s: %w", keyString(t, raw), c.name, err)
			}
			size += valueSize(v)
		}
		batch = append(batch, row)
		last = make([]any, len(t.pk))
		for i, k := range t.pk {
			last[i] = raw[k]
		}
		if size >= m.cfg.BatchBytes {
			break
		}
	}
	return batch, last, rows.Err()
}

// writeBatch inserts batch into t, updating the rows the target has
// already, then reads the batch back and compares it value by value, in
// one transaction.
func writeBatch(ctx context.Context, dst *sql.DB, t *table, batch [][]any) error {
	tx, err := dst.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var (
		q    strings.Builder
		args = make([]any, 0, len(batch)*len(t.cols))
	)
	q.WriteString(`INSERT INTO ` + quote(t.name) + ` (` + t.colList("") + `)`)
	if t.identity >= 0 {
		q.WriteString(` OVERRIDING SYSTEM VALUE`)
	}
	q.WriteString(` VALUES `)
	for i, row := range batch {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(")
		for j, v := range row {
			if j > 0 {
				q.WriteString(", ")
			}
			args = append(args, v)
			q.WriteString("$" + strconv.Itoa(len(args)))
		}
		q.WriteString(")")
	}
	q.WriteString(` ON CONFLICT (` + t.pkList() + `) DO `)
	var set, old, excluded []string
	for i, c := range t.cols {
		if isKey(t, i) {
			continue
		}
		set = append(set, quote(c.name)+` = EXCLUDED.`+quote(c.name))
		old = append(old, quote(t.name)+`.`+quote(c.name))
		excluded = append(excluded, `EXCLUDED.`+quote(c.name))
	}
	if len(set) == 0 {
		q.WriteString(`NOTHING`)
	} else {
		q.WriteString(`UPDATE SET ` + strings.Join(set, ", ") +
			` WHERE ROW(` + strings.Join(old, ", ") + `) IS DISTINCT FROM ROW(` + strings.Join(excluded, ", ") + `)`)
	}
	if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
		return fmt.Errorf("writing rows %s to %s: %w", keyString(t, batch[0]), keyString(t, batch[len(batch)-1]), err)
	}
	if err := readBack(ctx, tx, t, batch); err != nil {
		return err
	}
	return tx.Commit()
}

// readBack reads the batch's rows from the target and compares them with
// the source's.
func readBack(ctx context.Context, tx *sql.Tx, t *table, batch [][]any) error {
	var (
		q    strings.Builder
		args []any
	)
	q.WriteString(`SELECT ` + t.colList("") + ` FROM ` + quote(t.name) + ` WHERE (` + t.pkList() + `) IN (`)
	want := make(map[string][]any, len(batch))
	for i, row := range batch {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(")
		for j, k := range t.pk {
			if j > 0 {
				q.WriteString(", ")
			}
			args = append(args, row[k])
			q.WriteString("$" + strconv.Itoa(len(args)))
		}
		q.WriteString(")")
		want[keyString(t, row)] = row
	}
	q.WriteString(")")
	rows, err := tx.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return fmt.Errorf("reading rows back: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		got := make([]any, len(t.cols))
		ptrs := make([]any, len(got))
		for i := range got {
			ptrs[i] = &got[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		key := keyString(t, got)
		w, ok := want[key]
		if !ok {
			return fmt.Errorf("reading rows back: row %s was not written", key)
		}
		for i, c := range t.cols {
			if !sameValue(w[i], got[i]) {
				return fmt.Errorf("row %s, column %s: the target holds %s after the copy, the source %s", key, c.name, show(got[i]), show(w[i]))
			}
		}
		delete(want, key)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for key := range want {
		return fmt.Errorf("row %s is not in the target after the copy", key)
	}
	return nil
}

func isKey(t *table, col int) bool {
	for _, k := range t.pk {
		if k == col {
			return true
		}
	}
	return false
}

// keyString names a row by its primary key, for messages and maps.
func keyString(t *table, row []any) string {
	parts := make([]string, len(t.pk))
	for i, k := range t.pk {
		parts[i] = t.cols[k].name + "=" + show(row[k])
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func show(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		if len(v) > 32 {
			return fmt.Sprintf("%d bytes %x…", len(v), v[:16])
		}
		return fmt.Sprintf("bytes %x", v)
	case string:
		if len(v) > 64 {
			return strconv.Quote(v[:64]) + "…"
		}
		return strconv.Quote(v)
	default:
		return fmt.Sprint(v)
	}
}

// convert turns a value SQLite returned into the one the target's column
// type takes: SQLite keeps booleans as integers and, by its type
// affinity, may hand back text for a blob column or the reverse.
func convert(v any, typ string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case "boolean":
		switch v := v.(type) {
		case bool:
			return v, nil
		case int64:
			if v == 0 || v == 1 {
				return v == 1, nil
			}
		}
	case "bigint", "integer", "smallint":
		if v, ok := v.(int64); ok {
			return v, nil
		}
	case "text":
		switch v := v.(type) {
		case string:
			return v, nil
		case []byte:
			if utf8.Valid(v) {
				return string(v), nil
			}
		}
	case "bytea":
		switch v := v.(type) {
		case []byte:
			return v, nil
		case string:
			return []byte(v), nil
		}
	}
	return nil, fmt.Errorf("the source holds %T %s, which does not convert to %s", v, show(v), typ)
}

// sameValue compares a converted source value with the target's. A NULL
// and an empty value differ.
func sameValue(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case []byte:
		bb, ok := b.([]byte)
		return ok && bytes.Equal(a, bb)
	case int64:
		switch b := b.(type) {
		case int64:
			return a == b
		case int32:
			return a == int64(b)
		}
		return false
	default:
		return a == b
	}
}

func valueSize(v any) int64 {
	switch v := v.(type) {
	case []byte:
		return int64(len(v))
	case string:
		return int64(len(v))
	default:
		return 8
	}
}

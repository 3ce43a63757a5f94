package migrate

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/pgtenant/pgtenant/tenant"
)

// ErrBadDump is wrapped by the errors of ImportTenant for input that is not
// a complete, intact tenant dump of this application.
var ErrBadDump = errors.New("migrate: not a valid tenant dump")

// The tenant dump format, version 1 (docs/lifecycle.md describes it for
// readers of the files). Lines end with \n.
//
//	PGTENANT-DUMP 1
//	{"format":1,"tenant":"acme","revision":["20261125220704_initial"],"tables":[{"name":"users","columns":["id",...]},...]}
//	TABLE "users"
//	<one row per line in PostgreSQL's COPY text format: tab-separated, \N for NULL, \\ \t \n \r escaped>
//	\.
//	TABLE "posts"
//	...
//	\.
//	END <hex SHA-256 of every byte before this line>
//
// The header lists the tables in foreign-key order, parents first, and the
// sections follow in that order. The revision is the list of tenant
// migrations applied to the source schema.
const (
	dumpMagic   = "PGTENANT-DUMP 1"
	dumpFormat  = 1
	dumpEnd     = `\.`
	maxDumpLine = 64 << 20
)

type dumpHeader struct {
	Format   int         `json:"format"`
	Tenant   string      `json:"tenant"`
	Revision []string    `json:"revision"`
	Tables   []dumpTable `json:"tables"`
}

type dumpTable struct {
	Name    string   `json:"name"`
	Columns []string `json:"columns"`
}

// ExportTenant writes tenant id (active or suspended) to w in the tenant
// dump format: its migration revision, then every row of every table,
// read in one REPEATABLE READ snapshot, so a tenant being written to is
// exported consistently. Values are written in their text form, as COPY TO
// writes them. Errors wrap tenant.ErrInvalidID and tenant.ErrNotFound where
// they apply; on error, what was written to w is incomplete (ImportTenant
// refuses it).
func (m *Migrator) ExportTenant(ctx context.Context, id string, w io.Writer) error {
	if err := m.exportTenant(ctx, id, w); err != nil {
		return fmt.Errorf("export tenant %q: %w", id, err)
	}
	return nil
}

func (m *Migrator) exportTenant(ctx context.Context, id string, w io.Writer) error {
	start := time.Now()
	schema, err := m.namer.Schema(id)
	if err != nil {
		return err
	}
	if err := m.servable(ctx, m.db, id, schema); err != nil {
		return err
	}
	tables, err := catalogTables(ctx, m.db, schema)
	if err != nil {
		return err
	}
	tx, err := m.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	q := pq.QuoteIdentifier(schema)
	names := []string{q + "." + RevisionTable}
	for _, t := range tables {
		names = append(names, q+"."+pq.QuoteIdentifier(t.name))
	}
	// As in a clone: lock first, so the snapshot comes after any DDL.
	if _, err := tx.ExecContext(ctx, "LOCK TABLE "+strings.Join(names, ", ")+" IN ACCESS SHARE MODE"); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	if err := m.servable(ctx, tx, id, schema); err != nil {
		return err
	}
	now, err := catalogTables(ctx, tx, schema)
	if err != nil {
		return err
	}
	if !sameTables(now, tables) {
		return errors.New("the tenant was migrated during the export: run it again")
	}
	revision, err := schemaRevision(ctx, tx, schema)
	if err != nil {
		return err
	}
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(w, h), 64<<10)
	hdr := dumpHeader{Format: dumpFormat, Tenant: id, Revision: revision}
	for _, t := range tables {
		dt := dumpTable{Name: t.name}
		for _, c := range t.columns {
			dt.Columns = append(dt.Columns, c.name)
		}
		hdr.Tables = append(hdr.Tables, dt)
	}
	hb, err := json.Marshal(hdr)
	if err != nil {
		return err
	}
	bw.WriteString(dumpMagic + "\n")
	bw.Write(hb)
	bw.WriteByte('\n')
	rowsOut := 0
	for _, t := range tables {
		n, err := exportTable(ctx, tx, bw, q, t)
		if err != nil {
			return fmt.Errorf("table %s: %w", t.name, err)
		}
		rowsOut += n
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if _, err := io.WriteString(w, "END "+hex.EncodeToString(h.Sum(nil))+"\n"); err != nil {
		return err
	}
	m.log.InfoContext(ctx, "tenant exported", "tenant", id, "schema", schema, "rows", rowsOut, "duration", time.Since(start))
	return tx.Commit()
}

// exportTable writes one table's section.
func exportTable(ctx context.Context, tx *sql.Tx, w *bufio.Writer, q string, t table) (int, error) {
	exprs := make([]string, len(t.columns))
	for i, c := range t.columns {
		exprs[i] = pq.QuoteIdentifier(c.name) + "::text"
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+strings.Join(exprs, ", ")+" FROM "+q+"."+pq.QuoteIdentifier(t.name))
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	name, _ := json.Marshal(t.name)
	w.WriteString("TABLE ")
	w.Write(name)
	w.WriteByte('\n')
	vals := make([]sql.NullString, len(t.columns))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		for i, v := range vals {
			if i > 0 {
				w.WriteByte('\t')
			}
			if !v.Valid {
				w.WriteString(`\N`)
				continue
			}
			copyEscaper.WriteString(w, v.String)
		}
		w.WriteByte('\n')
		n++
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	w.WriteString(dumpEnd + "\n")
	return n, nil
}

var copyEscaper = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`)

// copyUnescape decodes one field of COPY text format; ok is false for an
// escape the export never writes.
func copyUnescape(s string) (string, bool) {
	if !strings.Contains(s, `\`) {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", false
		}
		i++
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		default:
			return "", false
		}
	}
	return b.String(), true
}

func sameTables(a, b []table) bool {
	return slices.EqualFunc(a, b, func(x, y table) bool {
		return x.name == y.name && slices.Equal(x.columns, y.columns)
	})
}

// servable checks that the directory lists tenant id as active or
// suspended with schema.
func (m *Migrator) servable(ctx context.Context, q queryer, id, schema string) error {
	rows, err := q.QueryContext(ctx, "SELECT status, schema_name FROM public.tenants WHERE id = $1", id)
	if err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return fmt.Errorf("directory: %w", err)
		}
		return tenant.ErrNotFound
	}
	var status, have string
	if err := rows.Scan(&status, &have); err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	switch {
	case status != "active" && status != "suspended":
		return fmt.Errorf("%w: tenant is %s", ErrWrongStatus, status)
	case have != schema:
		return fmt.Errorf("directory names schema %s, the Namer %s", have, schema)
	}
	return nil
}

// ImportTenant creates tenant id from a dump written by ExportTenant. The
// magic line, the header and the revision are checked before anything is
// written: input that is not a dump of this format, or a dump whose revision
// this binary does not know (a newer application, or another one), is
// refused with an error wrapping ErrBadDump. Then, in one transaction, the
// schema is built by the migrations of the dump's revision and the rows are
// loaded with COPY, checking the table and column names against that
// schema and the checksum at the end; any problem (a truncated or altered
// dump included) rolls everything back and removes the directory row, so
// nothing is left. Finally the tenant is migrated to the latest revision and
// marked active. An existing tenant id is an error wrapping ErrWrongStatus
// (one that failed is replaced).
func (m *Migrator) ImportTenant(ctx context.Context, id string, r io.Reader) (*Tenant, error) {
	t, err := m.importTenant(ctx, id, r)
	if err != nil {
		return nil, fmt.Errorf("import tenant %q: %w", id, err)
	}
	return t, nil
}

func (m *Migrator) importTenant(ctx context.Context, id string, r io.Reader) (*Tenant, error) {
	start := time.Now()
	schema, err := m.namer.Schema(id)
	if err != nil {
		return nil, err
	}
	if m.loadErr != nil {
		return nil, m.loadErr
	}
	d := &dumpReader{r: bufio.NewReaderSize(r, 64<<10), h: sha256.New()}
	hdr, err := d.header()
	if err != nil {
		return nil, err
	}
	files, err := m.filesAt(hdr.Revision)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadDump, err)
	}
	if err := m.claim(ctx, id, schema); err != nil {
		return nil, err
	}
	rows := 0
	load := func(tx *sql.Tx) error {
		n, err := d.load(ctx, tx, schema, hdr)
		rows = n
		return err
	}
	if _, err := m.apply(ctx, schema, files, applyOptions{create: true, then: load}); err != nil {
		// Nothing of the schema was committed: remove the row too.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, derr := m.db.ExecContext(cctx, "DELETE FROM public.tenants WHERE id = $1 AND status = 'provisioning'", id); derr != nil {
			return nil, errors.Join(err, fmt.Errorf("remove directory row: %w", derr))
		}
		return nil, err
	}
	if _, err := m.migrateSchema(ctx, id, schema, applyOptions{then: m.activate(ctx, id)}); err != nil {
		return nil, m.markFailed(ctx, id, schema, err)
	}
	t, err := m.GetTenant(ctx, id)
	if err != nil {
		return nil, err
	}
	m.log.InfoContext(ctx, "tenant imported", "tenant", id, "schema", schema, "from", hdr.Tenant, "rows", rows, "duration", time.Since(start))
	return t, nil
}

// dumpReader reads a dump line by line, hashing every line it reads.
type dumpReader struct {
	r    *bufio.Reader
	h    hash.Hash
	line int
}

// next returns the next line without its \n. A missing final \n or end of
// input is a truncated dump.
func (d *dumpReader) next() (string, error) {
	var buf []byte
	for {
		chunk, err := d.r.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > maxDumpLine {
			return "", fmt.Errorf("%w: line %d longer than %d bytes", ErrBadDump, d.line+1, maxDumpLine)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("%w: truncated after line %d", ErrBadDump, d.line)
		}
		if err != nil {
			return "", fmt.Errorf("read dump: %w", err)
		}
		break
	}
	d.line++
	d.h.Write(buf)
	return string(buf[:len(buf)-1]), nil
}

// header reads and checks the magic line and the header.
func (d *dumpReader) header() (*dumpHeader, error) {
	start, _ := d.r.Peek(len(dumpMagic) + 1)
	if string(start) != dumpMagic+"\n" {
		if len(start) == 0 {
			return nil, fmt.Errorf("%w: empty input", ErrBadDump)
		}
		start, _ = d.r.Peek(40)
		if i := bytes.IndexByte(start, '\n'); i >= 0 {
			start = start[:i]
		}
		return nil, fmt.Errorf("%w: it starts with %q, not %q (a dump of another program, or of another format version?)", ErrBadDump, start, dumpMagic)
	}
	if _, err := d.next(); err != nil {
		return nil, err
	}
	line, err := d.next()
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	var hdr dumpHeader
	if err := dec.Decode(&hdr); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrBadDump, err)
	}
	switch {
	case hdr.Format != dumpFormat:
		return nil, fmt.Errorf("%w: format %d; this binary reads %d", ErrBadDump, hdr.Format, dumpFormat)
	case len(hdr.Revision) == 0:
		return nil, fmt.Errorf("%w: header has no revision", ErrBadDump)
	}
	seen := map[string]bool{}
	for _, t := range hdr.Tables {
		if t.Name == "" || seen[t.Name] || len(t.Columns) == 0 {
			return nil, fmt.Errorf("%w: header: empty, repeated or columnless table %q", ErrBadDump, t.Name)
		}
		seen[t.Name] = true
	}
	return &hdr, nil
}

// load checks the header's tables against the tables schema has in tx (just
// built at the dump's revision), COPYs every section in, checks the END
// line, and sets the sequences. It returns the number of rows loaded.
func (d *dumpReader) load(ctx context.Context, tx *sql.Tx, schema string, hdr *dumpHeader) (int, error) {
	tables, err := catalogTables(ctx, tx, schema)
	if err != nil {
		return 0, err
	}
	byName := map[string]table{}
	for _, t := range tables {
		byName[t.name] = t
	}
	if len(hdr.Tables) != len(tables) {
		return 0, fmt.Errorf("%w: %d tables; the schema at its revision has %d", ErrBadDump, len(hdr.Tables), len(tables))
	}
	placed := map[string]bool{}
	for _, dt := range hdr.Tables {
		t, ok := byName[dt.Name]
		if !ok {
			return 0, fmt.Errorf("%w: table %q is not in the schema at its revision", ErrBadDump, dt.Name)
		}
		var cols []string
		for _, c := range t.columns {
			cols = append(cols, c.name)
		}
		a, b := slices.Clone(cols), slices.Clone(dt.Columns)
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			return 0, fmt.Errorf("%w: table %s: columns %v; the schema has %v", ErrBadDump, dt.Name, dt.Columns, cols)
		}
		for _, p := range t.parents {
			if !placed[p] {
				return 0, fmt.Errorf("%w: table %s comes before %s, which it references", ErrBadDump, dt.Name, p)
			}
		}
		placed[dt.Name] = true
	}
	rows := 0
	for _, dt := range hdr.Tables {
		n, err := d.section(tx, schema, dt)
		rows += n
		if err != nil {
			return rows, fmt.Errorf("table %s: %w", dt.Name, err)
		}
	}
	sum := hex.EncodeToString(d.h.Sum(nil))
	end, err := d.next()
	if err != nil {
		return rows, err
	}
	if end != "END "+sum {
		return rows, fmt.Errorf("%w: checksum mismatch or missing END line at line %d: the dump was altered or cut", ErrBadDump, d.line)
	}
	if _, err := d.r.ReadByte(); !errors.Is(err, io.EOF) {
		return rows, fmt.Errorf("%w: data after the END line", ErrBadDump)
	}
	if err := setSequences(ctx, tx, schema, tables); err != nil {
		return rows, err
	}
	return rows, nil
}

// section COPYs one table's rows in.
func (d *dumpReader) section(tx *sql.Tx, schema string, dt dumpTable) (int, error) {
	line, err := d.next()
	if err != nil {
		return 0, err
	}
	name, _ := json.Marshal(dt.Name)
	if line != "TABLE "+string(name) {
		return 0, fmt.Errorf("%w: line %d: want the section TABLE %s", ErrBadDump, d.line, name)
	}
	stmt, err := tx.Prepare(pq.CopyInSchema(schema, dt.Name, dt.Columns...))
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	vals := make([]any, len(dt.Columns))
	n := 0
	for {
		line, err := d.next()
		if err != nil {
			return n, err
		}
		if line == dumpEnd {
			break
		}
		fields := strings.Split(line, "\t")
		if len(fields) != len(dt.Columns) {
			return n, fmt.Errorf("%w: line %d: %d fields; want %d", ErrBadDump, d.line, len(fields), len(dt.Columns))
		}
		for i, f := range fields {
			if f == `\N` {
				vals[i] = nil
				continue
			}
			v, ok := copyUnescape(f)
			if !ok || strings.ContainsRune(v, 0) {
				return n, fmt.Errorf("%w: line %d: bad escape or NUL in field %d", ErrBadDump, d.line, i+1)
			}
			vals[i] = v
		}
		if _, err := stmt.Exec(vals...); err != nil {
			return n, fmt.Errorf("line %d: %w", d.line, err)
		}
		n++
	}
	if _, err := stmt.Exec(); err != nil {
		return n, err
	}
	return n, nil
}

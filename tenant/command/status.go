package command

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/pgtenant/pgtenant/internal/cmdline"
	"github.com/pgtenant/pgtenant/tenant/migrate"
)

const statusHelp = `usage: %[1]s status [--json]

Shows, for public and for every tenant in the directory, which migrations
are applied, pending or drifted (applied from a file that has since
changed), read in bulk. It changes nothing.

Flags:
`

// status runs NAME status.
func (r *runner) status(ctx context.Context, args []string) error {
	fs := cmdline.NewFlagSet(r.stderr, "status", r.help(statusHelp))
	dbURL := r.db.Flag(fs)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cmdline.Usagef("status: unexpected argument %q", fs.Arg(0))
	}
	db, err := cmdline.OpenAdminDB(*dbURL, 2)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	defer db.Close()
	st, err := r.newMigrator(db, migrate.Options{}).Status(ctx, nil)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	if *asJSON {
		return writeStatusJSON(r.stdout, st)
	}
	writeStatusTable(r.stdout, st)
	return nil
}

// statusStates lists the states in the order the summary shows them.
var statusStates = []migrate.State{migrate.StateOK, migrate.StatePending, migrate.StateDrift, migrate.StateError}

func writeStatusTable(w io.Writer, st *migrate.Status) {
	p := st.Public
	fmt.Fprintf(w, "public: %s (%d applied, %d pending%s)\n", p.State, len(p.Applied), len(p.Pending), driftNote(p))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tSCHEMA\tDIRECTORY\tSTATE\tAPPLIED\tPENDING\tNOTE")
	for _, s := range st.Tenants {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", s.ID, s.Schema, s.Directory, s.State, len(s.Applied), len(s.Pending), strings.TrimPrefix(driftNote(s), ", "))
	}
	tw.Flush()
	sum := st.Summary()
	parts := make([]string, len(statusStates))
	for i, s := range statusStates {
		parts[i] = fmt.Sprintf("%d %s", sum[s], s)
	}
	fmt.Fprintf(w, "%s: %s\n", cmdline.Plural(len(st.Tenants), "tenant"), strings.Join(parts, ", "))
}

func driftNote(s migrate.SchemaStatus) string {
	var notes []string
	if len(s.Drifted) > 0 {
		notes = append(notes, "drifted: "+strings.Join(s.Drifted, ","))
	}
	if len(s.Unknown) > 0 {
		notes = append(notes, "unknown to this binary: "+strings.Join(s.Unknown, ","))
	}
	if s.Error != "" {
		notes = append(notes, s.Error)
	}
	if len(notes) == 0 {
		return ""
	}
	return ", " + strings.Join(notes, "; ")
}

type schemaStatusJSON struct {
	ID        string   `json:"id,omitempty"`
	Schema    string   `json:"schema"`
	Directory string   `json:"directory,omitempty"`
	State     string   `json:"state"`
	Applied   []string `json:"applied"`
	Pending   []string `json:"pending"`
	Drifted   []string `json:"drifted,omitempty"`
	Unknown   []string `json:"unknown,omitempty"`
	Error     string   `json:"error,omitempty"`
}

func statusJSON(s migrate.SchemaStatus) schemaStatusJSON {
	j := schemaStatusJSON{ID: s.ID, Schema: s.Schema, Directory: s.Directory, State: string(s.State),
		Applied: s.Applied, Pending: s.Pending, Drifted: s.Drifted, Unknown: s.Unknown, Error: s.Error}
	if j.Applied == nil {
		j.Applied = []string{}
	}
	if j.Pending == nil {
		j.Pending = []string{}
	}
	return j
}

func writeStatusJSON(w io.Writer, st *migrate.Status) error {
	out := struct {
		Public  schemaStatusJSON   `json:"public"`
		Tenants []schemaStatusJSON `json:"tenants"`
		Summary map[string]int     `json:"summary"`
	}{Public: statusJSON(st.Public), Tenants: []schemaStatusJSON{}, Summary: map[string]int{"total": len(st.Tenants)}}
	for _, s := range st.Tenants {
		out.Tenants = append(out.Tenants, statusJSON(s))
	}
	sum := st.Summary()
	for _, s := range statusStates {
		out.Summary[string(s)] = sum[s]
	}
	return cmdline.WriteJSON(w, out)
}

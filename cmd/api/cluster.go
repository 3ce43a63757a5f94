package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/pgtenant/pgtenant/internal/cmdline"
	"github.com/pgtenant/pgtenant/tenant/migrate"
)

const clusterHelp = `usage: api cluster status [--json]
       api cluster rebalance [--json]

On a Citus cluster (DATABASE_URL names the coordinator):

status     lists the nodes with the tenants and bytes each holds, from
           Citus's own metadata; a node that does not answer shows as
           unreachable
rebalance  runs Citus's rebalancer, which moves tenant schemas between
           workers online until each holds about as many; prints progress
           every second on standard error until the job ends, and exits
           non-zero unless it finished. If a worker has synchronous_commit
           off, each move blocks its tenant's writes for its whole copy
           instead (an online move could lose writes there)

See docs/scale-out.md.

Flags:
`

const tenantMoveHelp = `usage: api tenant move ID --to HOST:PORT [--json]

Moves tenant ID's schema, with all its tables, to the Citus worker HOST:PORT
(as 'api cluster status' lists it), online: the tenant keeps being served
while its data is copied, and its writes wait during the short switch-over.
If the worker the tenant is on has synchronous_commit off, its writes wait
for the whole copy instead (an online move could lose writes there); reads
go on either way. Prints progress every second on standard error and the
mode used at the end; exits non-zero if the move fails (the tenant then
stays where it was). See docs/scale-out.md.

Flags:
`

func clusterCmd(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "cluster", clusterHelp)
	dbURL := databaseURLFlag(fs, e)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := cmdline.ParseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if len(pos) != 1 || (pos[0] != "status" && pos[0] != "rebalance") {
		fs.Usage()
		return usagef("cluster: want one subcommand: status or rebalance")
	}
	db, err := cmdline.OpenAdminDB(*dbURL, 2)
	if err != nil {
		return fmt.Errorf("cluster %s: %w", pos[0], err)
	}
	defer db.Close()
	m := newMigrator(db, migrate.Options{})
	if pos[0] == "rebalance" {
		res, err := m.Rebalance(ctx, func(p migrate.TaskProgress) {
			fmt.Fprintf(e.stderr, "rebalance: %s, %d of %d moves done, %s\n", p.State, p.Done, p.Total, p.Elapsed.Round(time.Second))
		})
		if err != nil {
			return err
		}
		if *asJSON {
			return cmdline.WriteJSON(e.stdout, res)
		}
		if res.JobID == 0 {
			fmt.Fprintln(e.stdout, "cluster already balanced: nothing to move")
			return nil
		}
		fmt.Fprintf(e.stdout, "rebalance job %d %s: %d moves in %s, %s\n", res.JobID, res.State, res.Moves, res.Duration.Round(time.Millisecond), modeText(res.Mode))
		return nil
	}
	nodes, err := m.ClusterNodes(ctx)
	if err != nil {
		return fmt.Errorf("cluster status: %w", err)
	}
	if *asJSON {
		return cmdline.WriteJSON(e.stdout, struct {
			Nodes []migrate.Node `json:"nodes"`
		}{nodes})
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tSTATE\tTENANTS\tBYTES")
	for _, n := range nodes {
		state := "up"
		switch {
		case !n.Active:
			state = "inactive"
		case !n.Reachable:
			state = "unreachable"
		}
		bytes := "-"
		if n.Bytes >= 0 {
			bytes = strconv.FormatInt(n.Bytes, 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", n.Addr, n.Role, state, n.Tenants, bytes)
	}
	return tw.Flush()
}

// tenantMoveCmd is 'api tenant move'.
func tenantMoveCmd(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "tenant move", tenantMoveHelp)
	dbURL := databaseURLFlag(fs, e)
	to := fs.String("to", "", "the target worker's `HOST:PORT`")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	id, err := parseTenantID(fs, args, "tenant move")
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if *to == "" {
		return usagef("tenant move: --to HOST:PORT is required")
	}
	db, err := cmdline.OpenAdminDB(*dbURL, 2)
	if err != nil {
		return fmt.Errorf("tenant move: %w", err)
	}
	defer db.Close()
	m := newMigrator(db, migrate.Options{})
	start := time.Now()
	res, err := m.MoveTenant(ctx, id, *to, func(p migrate.TaskProgress) {
		fmt.Fprintf(e.stderr, "move %s: %s, %d of %d bytes, %s\n", id, p.State, p.Done, p.Total, p.Elapsed.Round(time.Second))
	})
	if err != nil {
		return err
	}
	d := time.Since(start)
	if *asJSON {
		return cmdline.WriteJSON(e.stdout, struct {
			ID       string        `json:"id"`
			From     string        `json:"from"`
			To       string        `json:"to"`
			Mode     string        `json:"mode"`
			Duration time.Duration `json:"duration"`
		}{id, res.From, *to, res.Mode, d})
	}
	if res.Mode == "" {
		fmt.Fprintf(e.stdout, "tenant %s already on %s\n", id, *to)
		return nil
	}
	fmt.Fprintf(e.stdout, "tenant %s on %s (%s, %s)\n", id, *to, d.Round(time.Millisecond), modeText(res.Mode))
	return nil
}

// modeText says what a transfer mode meant for the moved tenants' writes.
func modeText(mode string) string {
	if mode == migrate.TransferBlockWrites {
		return "writes blocked during the copy: a worker has synchronous_commit off"
	}
	return "online"
}

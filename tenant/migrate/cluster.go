package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/lib/pq"

	"github.com/pgtenant/pgtenant/tenant"
)

// ErrNotCitus is returned by the cluster operations (ClusterNodes,
// Placements, MoveTenant, Rebalance) when the database is not a Citus
// coordinator.
var ErrNotCitus = errors.New("migrate: the database is not a Citus coordinator (no citus extension)")

// Node is a node of a Citus cluster, as its coordinator's metadata
// (pg_dist_node, citus_shards) describes it.
type Node struct {
	Addr   string `json:"addr"`   // host:port, as registered
	Role   string `json:"role"`   // "coordinator" or "worker"
	Active bool   `json:"active"` // pg_dist_node.isactive
	// Reachable is false when the coordinator cannot connect to the node.
	Reachable bool `json:"reachable"`
	// Tenants is the number of distributed (tenant) schemas placed on it.
	Tenants int `json:"tenants"`
	// Bytes is the size of the shards it holds (tenant tables and its copy
	// of the reference tables); -1 when the node does not answer.
	Bytes int64 `json:"bytes"`
}

// ClusterNodes lists the primary nodes of the cluster, coordinator first,
// then workers by address, with their tenants and bytes. Sizes are read from
// the nodes themselves (through the coordinator); a node that does not
// answer is listed with Reachable false and Bytes -1.
func (m *Migrator) ClusterNodes(ctx context.Context) ([]Node, error) {
	if err := m.needCitus(ctx); err != nil {
		return nil, err
	}
	rows, err := m.db.QueryContext(ctx, `
SELECT n.nodename, n.nodeport, n.groupid = 0, n.isactive,
	coalesce(h.result = 't', false),
	(SELECT count(DISTINCT c.relnamespace) FROM pg_dist_schema ds
		JOIN pg_class c ON c.relnamespace = ds.schemaid
		JOIN pg_dist_shard sh ON sh.logicalrelid = c.oid
		JOIN pg_dist_placement pl ON pl.shardid = sh.shardid
		WHERE pl.groupid = n.groupid)
FROM pg_dist_node n
LEFT JOIN LATERAL (
	SELECT result FROM run_command_on_all_nodes('SELECT true')
	WHERE nodeid = n.nodeid
) h ON true
WHERE n.noderole = 'primary'
ORDER BY n.groupid <> 0, n.nodename, n.nodeport`)
	if err != nil {
		return nil, fmt.Errorf("cluster nodes: %w", err)
	}
	var nodes []Node
	for rows.Next() {
		var (
			n     Node
			host  string
			port  int
			coord bool
		)
		if err := rows.Scan(&host, &port, &coord, &n.Active, &n.Reachable, &n.Tenants); err != nil {
			rows.Close()
			return nil, fmt.Errorf("cluster nodes: %w", err)
		}
		n.Addr = net.JoinHostPort(host, strconv.Itoa(port))
		n.Role = "worker"
		if coord {
			n.Role = "coordinator"
		}
		n.Bytes = -1
		nodes = append(nodes, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cluster nodes: %w", err)
	}
	// Sizes need every node to answer; ask each reachable one on its own,
	// so that one node down leaves the others' sizes readable.
	for i, n := range nodes {
		if !n.Reachable {
			continue
		}
		host, port, _ := net.SplitHostPort(n.Addr)
		err := m.db.QueryRowContext(ctx, `
SELECT coalesce(sum(shard_size), 0)::bigint FROM citus_shards WHERE nodename = $1 AND nodeport = $2`, host, port).Scan(&nodes[i].Bytes)
		if err != nil {
			nodes[i].Bytes = -1
		}
	}
	return nodes, nil
}

// Placements returns, for each distributed tenant schema, the address
// (host:port) of the node that holds it. It returns nil and no error on a
// database that is not a Citus coordinator.
func (m *Migrator) Placements(ctx context.Context) (map[string]string, error) {
	on, err := m.Citus(ctx)
	if err != nil || !on {
		return nil, err
	}
	rows, err := m.db.QueryContext(ctx, `
SELECT DISTINCT ON (ns.nspname) ns.nspname, n.nodename, n.nodeport
FROM pg_dist_schema ds
JOIN pg_namespace ns ON ns.oid = ds.schemaid
JOIN pg_class c ON c.relnamespace = ds.schemaid
JOIN pg_dist_shard sh ON sh.logicalrelid = c.oid
JOIN pg_dist_placement pl ON pl.shardid = sh.shardid
JOIN pg_dist_node n ON n.groupid = pl.groupid AND n.noderole = 'primary'
ORDER BY ns.nspname`)
	if err != nil {
		return nil, fmt.Errorf("placements: %w", err)
	}
	defer rows.Close()
	out := make(map[string]string)
	for rows.Next() {
		var schema, host string
		var port int
		if err := rows.Scan(&schema, &host, &port); err != nil {
			return nil, fmt.Errorf("placements: %w", err)
		}
		out[schema] = net.JoinHostPort(host, strconv.Itoa(port))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("placements: %w", err)
	}
	return out, nil
}

// TaskProgress is a snapshot of a running move or rebalance.
type TaskProgress struct {
	Elapsed time.Duration `json:"elapsed"`
	// State is Citus's word for where the work stands (for a move:
	// "copying", "catching up", ...; for a rebalance: the job's state).
	State string `json:"state"`
	// Done and Total count shard moves for a rebalance; for a move, the
	// bytes copied so far and the bytes to copy (0 when unknown).
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
}

// progressEvery is how often MoveTenant and Rebalance report progress.
const progressEvery = time.Second

// Transfer modes: how a move copies a tenant, and what its writes see
// meanwhile.
const (
	// TransferOnline copies with logical replication while the tenant is
	// served; its writes wait only during the switch-over at the end.
	TransferOnline = "online"
	// TransferBlockWrites makes the tenant's writes wait for the whole
	// copy; reads go on. MoveTenant and Rebalance choose it when a worker
	// commits asynchronously (synchronous_commit off): an online move
	// there can leave writes acknowledged just before the switch-over
	// behind on the old placement, which Citus drops afterwards.
	TransferBlockWrites = "block_writes"
)

// citusTransferMode is Citus's name (citus.shard_transfer_mode) for mode.
func citusTransferMode(mode string) string {
	if mode == TransferBlockWrites {
		return "block_writes"
	}
	return "auto"
}

// MoveResult is the outcome of MoveTenant.
type MoveResult struct {
	From string `json:"from"` // host:port the tenant was on
	To   string `json:"to"`   // host:port it is on now
	// Mode is TransferOnline or TransferBlockWrites; empty when the tenant
	// was on To already and nothing moved.
	Mode     string        `json:"mode"`
	Duration time.Duration `json:"duration"`
}

// MoveTenant moves the schema of tenant id, with all its tables, to the
// worker at to (host:port, as registered in the cluster). The move is
// online (TransferOnline): Citus copies the schema with logical replication
// while the tenant keeps being served, then blocks its writes for the
// switch-over. When the worker the tenant is on commits asynchronously
// (synchronous_commit off, as a session of this role in this database sees
// it), the move blocks the tenant's writes for the whole copy instead
// (TransferBlockWrites), because Citus's online move may then lose writes
// acknowledged just before the switch-over. It calls progress (if not nil)
// about every second until the move ends, from another goroutine than the
// one running the move, never concurrently. Moving a tenant to the node it
// is on is a no-op. Errors wrap tenant.ErrInvalidID, tenant.ErrNotFound for
// a tenant missing from the directory, and ErrNotCitus.
func (m *Migrator) MoveTenant(ctx context.Context, id, to string, progress func(TaskProgress)) (*MoveResult, error) {
	res, err := m.moveTenant(ctx, id, to, progress)
	if err != nil {
		return nil, fmt.Errorf("move tenant %q: %w", id, err)
	}
	return res, nil
}

func (m *Migrator) moveTenant(ctx context.Context, id, to string, progress func(TaskProgress)) (*MoveResult, error) {
	schema, err := m.namer.Schema(id)
	if err != nil {
		return nil, err
	}
	host, portText, err := net.SplitHostPort(to)
	if err != nil {
		return nil, fmt.Errorf("target %q: want HOST:PORT", to)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port <= 0 || port > 65535 {
		return nil, fmt.Errorf("target %q: bad port", to)
	}
	if err := m.needCitus(ctx); err != nil {
		return nil, err
	}
	rows, err := m.directoryOf(ctx, []string{id}, "")
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%w: not in the directory", tenant.ErrNotFound)
	}
	var known bool
	if err := m.db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_dist_node WHERE nodename = $1 AND nodeport = $2 AND noderole = 'primary' AND groupid <> 0)", host, port).Scan(&known); err != nil {
		return nil, err
	}
	if !known {
		return nil, fmt.Errorf("%s is not a worker of the cluster (see 'api cluster status')", to)
	}
	place, err := m.Placements(ctx)
	if err != nil {
		return nil, err
	}
	from, ok := place[schema]
	res := &MoveResult{From: from, To: net.JoinHostPort(host, strconv.Itoa(port))}
	switch {
	case !ok:
		return nil, fmt.Errorf("schema %s is not distributed (run 'api migrate --all' on the coordinator first)", schema)
	case from == res.To:
		m.log.InfoContext(ctx, "tenant already on target", "tenant", id, "schema", schema, "node", from)
		return res, nil
	}
	if res.Mode, err = m.transferMode(ctx, from); err != nil {
		return nil, err
	}
	start := time.Now()
	stop := m.watch(ctx, start, progress, func(ctx context.Context) (TaskProgress, error) {
		var p TaskProgress
		err := m.db.QueryRowContext(ctx, `
SELECT coalesce(string_agg(DISTINCT progress::text, ','), 'starting'), coalesce(sum(target_shard_size), 0)::bigint, coalesce(sum(source_shard_size), 0)::bigint
FROM get_rebalance_progress()`).Scan(&p.State, &p.Done, &p.Total)
		p.State = moveState(p.State)
		return p, err
	})
	_, err = m.db.ExecContext(ctx, "SELECT citus_schema_move($1::regnamespace, $2::text, $3::int, $4::citus.shard_transfer_mode)",
		pq.QuoteIdentifier(schema), host, port, citusTransferMode(res.Mode))
	stop()
	if err != nil {
		return nil, err
	}
	res.Duration = time.Since(start)
	m.log.InfoContext(ctx, "tenant moved", "tenant", id, "schema", schema, "from", from, "to", to, "mode", res.Mode, "duration", res.Duration)
	return res, nil
}

// transferMode returns TransferBlockWrites when one of the workers at addrs
// (host:port; every active worker when addrs is empty) has
// synchronous_commit off, and TransferOnline otherwise. It reads the
// setting as a session of this role in this database sees it: the server's
// configuration and the database's and this role's ALTER ... SET. An online
// move decides that the target has caught up by comparing it with the
// source's WAL write position, which need not cover a commit still waiting
// for the WAL writer: a write acknowledged just before the switch-over would
// stay behind on the old placement.
func (m *Migrator) transferMode(ctx context.Context, addrs ...string) (string, error) {
	rows, err := m.db.QueryContext(ctx, "SELECT nodename, nodeport, success, result FROM run_command_on_workers('SHOW synchronous_commit')")
	if err != nil {
		return "", fmt.Errorf("read synchronous_commit on the workers: %w", err)
	}
	defer rows.Close()
	mode := TransferOnline
	for rows.Next() {
		var (
			host, result string
			port         int
			ok           bool
		)
		if err := rows.Scan(&host, &port, &ok, &result); err != nil {
			return "", fmt.Errorf("read synchronous_commit on the workers: %w", err)
		}
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		if len(addrs) > 0 && !slices.Contains(addrs, addr) {
			continue
		}
		switch {
		case !ok:
			return "", fmt.Errorf("read synchronous_commit on %s: %s", addr, result)
		case result == "off":
			m.log.WarnContext(ctx, "worker commits asynchronously: a move blocks writes for its whole copy", "node", addr)
			mode = TransferBlockWrites
		}
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("read synchronous_commit on the workers: %w", err)
	}
	return mode, nil
}

// moveState names the progress codes of get_rebalance_progress().
func moveState(codes string) string {
	switch codes {
	case "0":
		return "waiting"
	case "1":
		return "moving"
	case "2":
		return "done"
	}
	return codes
}

// RebalanceResult is the outcome of Rebalance.
type RebalanceResult struct {
	JobID    int64         `json:"jobId"` // 0 when there was nothing to move
	State    string        `json:"state"` // Citus's final job state ("finished", ...)
	Moves    int64         `json:"moves"` // shard moves the job ran
	Mode     string        `json:"mode"`  // TransferOnline or TransferBlockWrites
	Duration time.Duration `json:"duration"`
}

// Rebalance runs Citus's rebalancer (citus_rebalance_start), which moves
// tenant schemas between workers until each worker holds about as many, and
// waits until its job ends, calling progress (if not nil) about every
// second. The moves are online (TransferOnline) unless a worker has
// synchronous_commit off, in which case every move blocks its tenant's
// writes for its whole copy (TransferBlockWrites), as MoveTenant explains.
// It fails unless the job finishes. Errors wrap ErrNotCitus on a database
// that is not a coordinator.
func (m *Migrator) Rebalance(ctx context.Context, progress func(TaskProgress)) (*RebalanceResult, error) {
	if err := m.needCitus(ctx); err != nil {
		return nil, fmt.Errorf("rebalance: %w", err)
	}
	start := time.Now()
	res := &RebalanceResult{}
	var err error
	if res.Mode, err = m.transferMode(ctx); err != nil {
		return nil, fmt.Errorf("rebalance: %w", err)
	}
	var job sql.NullInt64
	if err := m.db.QueryRowContext(ctx, "SELECT citus_rebalance_start(shard_transfer_mode := $1::citus.shard_transfer_mode)", citusTransferMode(res.Mode)).Scan(&job); err != nil {
		return nil, fmt.Errorf("rebalance: start: %w", err)
	}
	if !job.Valid {
		res.State, res.Duration = "balanced", time.Since(start)
		return res, nil
	}
	res.JobID = job.Int64
	status := func(ctx context.Context) (TaskProgress, error) {
		var p TaskProgress
		err := m.db.QueryRowContext(ctx, `
SELECT j.state::text,
	(SELECT count(*) FROM pg_dist_background_task t WHERE t.job_id = j.job_id AND t.status = 'done'),
	(SELECT count(*) FROM pg_dist_background_task t WHERE t.job_id = j.job_id)
FROM pg_dist_background_job j WHERE j.job_id = $1`, res.JobID).Scan(&p.State, &p.Done, &p.Total)
		return p, err
	}
	stop := m.watch(ctx, start, progress, status)
	_, err = m.db.ExecContext(ctx, "SELECT citus_job_wait($1)", res.JobID)
	stop()
	if err != nil {
		return nil, fmt.Errorf("rebalance: job %d: %w", res.JobID, err)
	}
	p, err := status(ctx)
	if err != nil {
		return nil, fmt.Errorf("rebalance: job %d: %w", res.JobID, err)
	}
	res.State, res.Moves, res.Duration = p.State, p.Total, time.Since(start)
	if p.State != "finished" {
		return res, fmt.Errorf("rebalance: job %d ended %s (see citus_rebalance_status())", res.JobID, p.State)
	}
	m.log.InfoContext(ctx, "cluster rebalanced", "job", res.JobID, "moves", res.Moves, "mode", res.Mode, "duration", res.Duration)
	return res, nil
}

// watch calls progress with snapshot's answer every progressEvery until the
// returned stop is called; stop returns once the last call has returned.
// A failing snapshot is skipped.
func (m *Migrator) watch(ctx context.Context, start time.Time, progress func(TaskProgress), snapshot func(context.Context) (TaskProgress, error)) (stop func()) {
	if progress == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(progressEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			p, err := snapshot(ctx)
			if err != nil {
				continue
			}
			p.Elapsed = time.Since(start)
			progress(p)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

func (m *Migrator) needCitus(ctx context.Context) error {
	on, err := m.Citus(ctx)
	if err != nil {
		return err
	}
	if !on {
		return ErrNotCitus
	}
	return nil
}

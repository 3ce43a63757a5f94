package tenant

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// budget is the global connection budget: a counting semaphore with one token
// per backend connection, shared by every pool of a Registry. A connection
// takes a token when it is dialed and gives it back when it is closed, so the
// number of backends the registry holds never exceeds the budget.
//
// With recycling (SearchPath mode), a healthy connection that its pool
// closes becomes a spare instead, keeping its token, and the next pool that
// needs a connection adopts it: a DISCARD ALL and a SET search_path instead
// of a new backend.
type budget struct {
	tokens   chan struct{}
	spares   chan spare    // nil without recycling
	idle     time.Duration // a connection idle this long is closed, not recycled (> 0)
	lifetime time.Duration // a connection this old is closed, not recycled; 0: no limit
	// maxTenants retires a connection once it served this many distinct
	// tenants; 0: no limit.
	maxTenants int
	closing    atomic.Bool   // the registry is closing: close, do not recycle
	waiting    atomic.Int64  // requests waiting for a token now
	waits      atomic.Uint64 // requests that ever had to wait

	// shed closes idle connections until a token or a spare is free or none
	// is left; set once by the registry before any pool is opened.
	shed func()
}

// A spare is a connection between pools, holding its budget token.
type spare struct {
	conn   pqConn
	since  time.Time           // when it became a spare
	born   time.Time           // when it was dialed
	served map[string]struct{} // the tenants it served, when counted
}

// newBudget returns a budget of n connections. With recycle, connections
// closed while healthy become spares, unless they idled for idle, lived for
// lifetime (when positive) or served maxTenants tenants (when positive).
func newBudget(n int, recycle bool, idle, lifetime time.Duration, maxTenants int) *budget {
	b := &budget{tokens: make(chan struct{}, n), idle: idle, lifetime: lifetime, maxTenants: maxTenants}
	if recycle {
		b.spares = make(chan spare, n)
	}
	return b
}

// recycles reports whether closed connections become spares.
func (b *budget) recycles() bool { return b.spares != nil }

// spareCount returns the number of spares now.
func (b *budget) spareCount() int { return len(b.spares) }

// takeSpare returns a spare connection, or one whose conn is nil when there
// is none.
func (b *budget) takeSpare() spare {
	select {
	case s := <-b.spares:
		return s
	default:
		return spare{}
	}
}

// roomy reports whether a connection is to be had without waiting.
func (b *budget) roomy() bool {
	return len(b.tokens) < cap(b.tokens) || len(b.spares) > 0
}

// closeSpares closes the spares idle since before cutoff (all of them once
// the registry is closing), returning their tokens.
func (b *budget) closeSpares(cutoff time.Time) {
	for range len(b.spares) {
		select {
		case s := <-b.spares:
			if s.since.Before(cutoff) || b.closing.Load() {
				s.conn.Close()
				b.release()
				continue
			}
			// Still fresh: put it back, unless the channel filled meanwhile.
			select {
			case b.spares <- s:
			default:
				s.conn.Close()
				b.release()
			}
		default:
			return
		}
	}
}

func (b *budget) tryAcquire() bool {
	select {
	case b.tokens <- struct{}{}:
		return true
	default:
		return false
	}
}

// acquire returns a spare connection, or takes a token for a new one and
// returns a spare whose conn is nil. When neither is free it first sheds
// idle connections, then waits until a token or a spare is returned or ctx
// is done; the error then wraps ErrUnavailable.
func (b *budget) acquire(ctx context.Context) (spare, error) {
	if s := b.takeSpare(); s.conn != nil {
		return s, nil
	}
	if b.tryAcquire() {
		return spare{}, nil
	}
	if s, ok := b.shedAndTake(); ok {
		return s, nil
	}
	// Announce the wait: from now on, connections returned to their pools
	// are closed rather than kept idle (see budgetConn.IsValid).
	b.waiting.Add(1)
	defer b.waiting.Add(-1)
	if b.tryAcquire() {
		return spare{}, nil
	}
	// A connection returned to its pool between the shed above and the
	// announcement stayed idle, and nothing would close it while we wait:
	// shed once more.
	if s, ok := b.shedAndTake(); ok {
		return s, nil
	}
	b.waits.Add(1)
	select {
	case b.tokens <- struct{}{}:
		return spare{}, nil
	case s := <-b.spares:
		return s, nil
	case <-ctx.Done():
		return spare{}, fmt.Errorf("%w: connection budget of %d exhausted: %w", ErrUnavailable, cap(b.tokens), context.Cause(ctx))
	}
}

// shedAndTake sheds idle connections, then takes a spare or a token: ok
// reports whether it got either (s.conn is nil for a token).
func (b *budget) shedAndTake() (s spare, ok bool) {
	if b.shed == nil {
		return spare{}, false
	}
	b.shed()
	if s := b.takeSpare(); s.conn != nil {
		return s, true
	}
	return spare{}, b.tryAcquire()
}

func (b *budget) release() { <-b.tokens }

// inUse returns the number of tokens taken.
func (b *budget) inUse() int { return len(b.tokens) }

// budgetConnector is a driver.Connector whose connections hold a budget token
// each.
type budgetConnector struct {
	driver.Connector
	b *budget
	// setPath, when not empty, is the SET search_path statement run on
	// every connection the pool gets, dialed or adopted. Such connections
	// are dialed with an empty search_path and recycled through the
	// budget's spares: a RESET or DISCARD ALL leaves them reaching no
	// schema, never the schema of a pool they served before.
	setPath string
}

// Connect adopts a spare connection or takes a token and dials; the token is
// returned when the connection is closed, or at once if dialing fails.
func (c *budgetConnector) Connect(ctx context.Context) (driver.Conn, error) {
	for {
		s, err := c.b.acquire(ctx)
		if err != nil {
			return nil, err
		}
		pc, born, served := s.conn, s.born, s.served
		if pc != nil {
			// A spare: nothing of its previous session may remain (temporary
			// tables, settings, prepared statements, advisory locks, role).
			// DISCARD ALL cannot share a round trip with the SET: it refuses
			// to run in the implicit transaction of a multi-statement query.
			if _, err = pc.ExecContext(ctx, "DISCARD ALL", nil); err != nil {
				pc.Close()
				c.b.release()
				if ctx.Err() != nil {
					return nil, err
				}
				continue // a broken spare: try again
			}
		} else if pc, err = c.dial(ctx); err != nil {
			c.b.release()
			return nil, err
		} else {
			born = time.Now()
		}
		if c.setPath != "" {
			if _, err := pc.ExecContext(ctx, c.setPath, nil); err != nil {
				pc.Close()
				c.b.release()
				return nil, err
			}
		}
		bc := &budgetConn{pqConn: pc, b: c.b, born: born, served: served, recycle: c.setPath != ""}
		if bc.recycle {
			bc.returned.Store(time.Now().UnixNano())
		}
		return bc, nil
	}
}

func (c *budgetConnector) dial(ctx context.Context) (pqConn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	pc, ok := conn.(pqConn)
	if !ok {
		conn.Close()
		return nil, errorf("driver connection %T lacks an interface database/sql uses", conn)
	}
	return pc, nil
}

// pqConn is the set of optional driver interfaces that lib/pq's connection
// implements and database/sql uses; budgetConn keeps all of them.
type pqConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
	driver.NamedValueChecker
}

// budgetConn is a connection holding a budget token until it is closed.
type budgetConn struct {
	pqConn
	b    *budget
	born time.Time // when the backend was dialed, by this pool or another
	// served are the tenants whose queries the backend ran (see note),
	// while the budget counts them; database/sql uses a connection from
	// one goroutine at a time.
	served   map[string]struct{}
	recycle  bool         // on Close, a healthy connection becomes a spare
	returned atomic.Int64 // when database/sql last took it back (Unix ns); kept only if recycle
	closed   atomic.Bool
}

// Close closes the connection and returns its token, once. A recycled
// connection that is healthy, was not closed for idling (its pool's
// ConnMaxIdleTime) and is younger than the budget's lifetime becomes a
// spare with its token instead.
func (c *budgetConn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	if c.recycle && time.Since(time.Unix(0, c.returned.Load())) < c.b.idle &&
		(c.b.lifetime <= 0 || time.Since(c.born) < c.b.lifetime) && !c.retired() &&
		!c.b.closing.Load() && c.pqConn.IsValid() {
		select {
		case c.b.spares <- spare{conn: c.pqConn, since: time.Now(), born: c.born, served: c.served}:
			return nil
		default:
		}
	}
	err := c.pqConn.Close()
	c.b.release()
	return err
}

// IsValid is called by database/sql when the connection is returned to its
// pool. While a request waits for the budget, reporting the connection as no
// longer valid makes database/sql close it instead of keeping it idle, which
// hands its token (or the connection itself, as a spare) to the waiting
// request.
func (c *budgetConn) IsValid() bool {
	if c.recycle {
		c.returned.Store(time.Now().UnixNano())
	}
	if c.b.waiting.Load() > 0 || c.retired() {
		return false
	}
	return c.pqConn.IsValid()
}

// retired reports whether the connection served the budget's maxTenants.
func (c *budgetConn) retired() bool {
	return c.b.maxTenants > 0 && len(c.served) >= c.b.maxTenants
}

// note records the tenant of ctx (FromContext), if any, as served by the
// connection. The backend caches the catalog of every tenant's tables it
// touches, for as long as it lives.
func (c *budgetConn) note(ctx context.Context) {
	if c.b.maxTenants <= 0 {
		return
	}
	id, ok := FromContext(ctx)
	if !ok {
		return
	}
	if _, seen := c.served[id]; seen {
		return
	}
	if c.served == nil {
		c.served = make(map[string]struct{})
	}
	c.served[id] = struct{}{}
}

// QueryContext notes the tenant of ctx, then runs the query.
func (c *budgetConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	c.note(ctx)
	return c.pqConn.QueryContext(ctx, query, args)
}

// ExecContext notes the tenant of ctx, then runs the statement.
func (c *budgetConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	c.note(ctx)
	return c.pqConn.ExecContext(ctx, query, args)
}

// PrepareContext notes the tenant of ctx, then prepares the statement.
func (c *budgetConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	c.note(ctx)
	return c.pqConn.PrepareContext(ctx, query)
}

// closeWait bounds how long closing a connection waits for the server to
// close its end.
const closeWait = 2 * time.Second

// drainDialer dials connections that, when closed, wait for the server to
// close its end first. A backend leaves pg_stat_activity before it closes its
// socket, so once that happened the server no longer counts the connection
// and its budget token can be given to a new one: the budget then holds from
// the server's point of view too, not only from the registry's.
type drainDialer struct{ d net.Dialer }

func (d drainDialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

func (d drainDialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.DialContext(ctx, network, address)
}

func (d drainDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := d.d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return drainConn{c}, nil
}

type drainConn struct{ net.Conn }

// Close is called by lib/pq after it sent Terminate; it reads until the
// server closes the connection (or closeWait passes), then closes.
func (c drainConn) Close() error {
	if c.Conn.SetReadDeadline(time.Now().Add(closeWait)) == nil {
		io.Copy(io.Discard, c.Conn)
	}
	return c.Conn.Close()
}

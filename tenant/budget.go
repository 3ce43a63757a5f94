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
type budget struct {
	tokens  chan struct{}
	waiting atomic.Int64  // requests waiting for a token now
	waits   atomic.Uint64 // requests that ever had to wait

	// shed closes idle connections until a token is free or none is left;
	// set once by the registry before any pool is opened.
	shed func()
}

func newBudget(n int) *budget {
	return &budget{tokens: make(chan struct{}, n)}
}

func (b *budget) tryAcquire() bool {
	select {
	case b.tokens <- struct{}{}:
		return true
	default:
		return false
	}
}

// acquire takes a token. When none is free it first sheds idle connections,
// then waits until a token is returned or ctx is done; the error
// then wraps ErrUnavailable.
func (b *budget) acquire(ctx context.Context) error {
	if b.tryAcquire() {
		return nil
	}
	if b.shed != nil {
		b.shed()
		if b.tryAcquire() {
			return nil
		}
	}
	// Announce the wait: from now on, connections returned to their pools
	// are closed rather than kept idle (see budgetConn.IsValid).
	b.waiting.Add(1)
	defer b.waiting.Add(-1)
	if b.tryAcquire() {
		return nil
	}
	b.waits.Add(1)
	select {
	case b.tokens <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: connection budget of %d exhausted: %w", ErrUnavailable, cap(b.tokens), context.Cause(ctx))
	}
}

func (b *budget) release() { <-b.tokens }

// inUse returns the number of tokens taken.
func (b *budget) inUse() int { return len(b.tokens) }

// budgetConnector is a driver.Connector whose connections hold a budget token
// each.
type budgetConnector struct {
	driver.Connector
	b *budget
}

// Connect takes a token, then dials. The token is returned when the
// connection is closed, or at once if dialing fails.
func (c *budgetConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if err := c.b.acquire(ctx); err != nil {
		return nil, err
	}
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		c.b.release()
		return nil, err
	}
	pc, ok := conn.(pqConn)
	if !ok {
		conn.Close()
		c.b.release()
		return nil, errorf("driver connection %T lacks an interface database/sql uses", conn)
	}
	return &budgetConn{pqConn: pc, b: c.b}, nil
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
	b      *budget
	closed atomic.Bool
}

// Close closes the connection and returns its token, once.
func (c *budgetConn) Close() error {
	err := c.pqConn.Close()
	if c.closed.CompareAndSwap(false, true) {
		c.b.release()
	}
	return err
}

// IsValid is called by database/sql when the connection is returned to its
// pool. While a request waits for the budget, reporting the connection as no
// longer valid makes database/sql close it instead of keeping it idle, which
// hands its token to the waiting request.
func (c *budgetConn) IsValid() bool {
	if c.b.waiting.Load() > 0 {
		return false
	}
	return c.pqConn.IsValid()
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

// Package pglisten runs a PostgreSQL LISTEN for the life of its owner: a
// lib/pq Listener that reconnects by itself, and one goroutine that hands
// each notification's payload to a function.
package pglisten

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/lib/pq"
)

// Handlers are called from the listener's goroutine, one call at a time.
type Handlers struct {
	// Notify is called with the payload of every notification.
	Notify func(payload string)
	// Reconnected is called after the connection was lost and made again:
	// notifications sent meanwhile were missed.
	Reconnected func()
}

// A Listener listens on one channel until Close.
type Listener struct {
	l    *pq.Listener
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// Start listens on channel over a connection of its own to dsn, waiting
// until the LISTEN is done or ctx ends (then the error says so, and nothing
// is left running). Connection errors, after that, are logged as warnings
// to log under name while the listener reconnects.
func Start(ctx context.Context, dsn, channel, name string, log *slog.Logger, h Handlers) (*Listener, error) {
	l := pq.NewListener(dsn, 100*time.Millisecond, 10*time.Second, func(ev pq.ListenerEventType, err error) {
		if err != nil {
			log.Warn(name, "event", ev.String(), "err", err)
		}
	})
	errc := make(chan error, 1)
	go func() { errc <- l.Listen(channel) }()
	select {
	case err := <-errc:
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("listen on %s: %w", channel, err)
		}
	case <-ctx.Done():
		l.Close()
		<-errc
		return nil, fmt.Errorf("listen on %s: %w", channel, context.Cause(ctx))
	}
	ln := &Listener{l: l, stop: make(chan struct{})}
	ln.wg.Go(func() { ln.dispatch(h) })
	return ln, nil
}

func (ln *Listener) dispatch(h Handlers) {
	notify := ln.l.Notify
	for {
		select {
		case <-ln.stop:
			// Keep lib/pq from blocking on a full channel until Close has
			// closed the listener.
			go func() {
				for range notify {
				}
			}()
			return
		case n, ok := <-notify:
			switch {
			case !ok:
				return
			case n == nil:
				h.Reconnected()
			default:
				h.Notify(n.Extra)
			}
		}
	}
}

// Close stops handing notifications out, waits for the handler running,
// if any, and closes the connection. It is idempotent.
func (ln *Listener) Close() error {
	var err error
	ln.once.Do(func() {
		close(ln.stop)
		ln.wg.Wait()
		err = ln.l.Close()
	})
	return err
}

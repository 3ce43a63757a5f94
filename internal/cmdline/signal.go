package cmdline

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// SignalContext returns a context that the first SIGINT or SIGTERM
// cancels, for a graceful end; a second one ends the process at once, as
// its default action would. Both are received on one channel with room for
// both, so the second is never lost however soon it follows the first.
func SignalContext() (context.Context, context.CancelFunc) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-sigs
		cancel()
		sig := <-sigs
		signal.Reset(os.Interrupt, syscall.SIGTERM)
		p, err := os.FindProcess(os.Getpid())
		if err == nil {
			err = p.Signal(sig)
		}
		if err != nil {
			os.Exit(1)
		}
	}()
	return ctx, cancel
}

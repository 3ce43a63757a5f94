package tenant

import (
	"context"
	"testing"
	"time"
)

// TestBudgetShedsAgainAfterAnnouncingTheWait covers a connection that goes
// idle after the first shed looked at its pool but before the wait was
// announced: it would stay idle (only connections returned during the wait
// are closed), holding the token the waiter needs. acquire sheds once more
// after announcing the wait, and finds it.
func TestBudgetShedsAgainAfterAnnouncingTheWait(t *testing.T) {
	b := newBudget(1, false, time.Minute, 0, 0)
	if !b.tryAcquire() { // the one token, held by a connection in use
		t.Fatal("tryAcquire on an empty budget failed")
	}
	sheds := 0
	b.shed = func() {
		sheds++
		if sheds == 2 {
			// By now the connection is idle in its pool: shedding closes
			// it and returns its token.
			b.release()
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := b.acquire(ctx); err != nil {
		t.Fatalf("acquire: %v", err)
	}
	if sheds != 2 {
		t.Errorf("shed ran %d times; want 2", sheds)
	}
}

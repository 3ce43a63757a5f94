package tenant

import (
	"context"
	"strings"
	"testing"
)

func TestContext(t *testing.T) {
	if id, ok := FromContext(context.Background()); ok || id != "" {
		t.Errorf("FromContext(Background) = %q, %v; want \"\", false", id, ok)
	}
	ctx := NewContext(context.Background(), "acme")
	if id, ok := FromContext(ctx); !ok || id != "acme" {
		t.Errorf("FromContext(NewContext(acme)) = %q, %v; want acme, true", id, ok)
	}
	// The innermost NewContext wins, and the outer context is unchanged.
	inner := NewContext(ctx, "globex")
	if id, _ := FromContext(inner); id != "globex" {
		t.Errorf("FromContext(NewContext(NewContext(acme), globex)) = %q; want globex", id)
	}
	if id, _ := FromContext(ctx); id != "acme" {
		t.Errorf("FromContext(outer) = %q after deriving an inner context; want acme", id)
	}
	// A value stored under another key, even a string, is not a tenant id.
	type otherKey struct{}
	other := context.WithValue(context.Background(), otherKey{}, "acme")
	if _, ok := FromContext(other); ok {
		t.Error("FromContext found a tenant id stored under another key")
	}
}

func TestContextPassesThrough(t *testing.T) {
	type key struct{}
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	ctx := NewContext(parent, "acme")
	if ctx.Value(key{}) != "v" {
		t.Errorf("Value(parent's key) = %v; want v", ctx.Value(key{}))
	}
	child, stop := context.WithCancel(ctx)
	defer stop()
	cancel()
	<-child.Done() // a context derived from ctx sees the parent's cancellation
	if ctx.Err() != context.Canceled || child.Err() != context.Canceled {
		t.Errorf("Err() = %v, child %v after cancel; want context.Canceled", ctx.Err(), child.Err())
	}
	if id, _ := FromContext(child); id != "acme" {
		t.Errorf("FromContext(child) = %q; want acme", id)
	}
	if got := ctx.(interface{ String() string }).String(); !strings.HasPrefix(got, "context.Background.") || !strings.HasSuffix(got, ".WithCancel.WithTenant(acme)") {
		t.Errorf("String() = %q; want context.Background...WithCancel.WithTenant(acme)", got)
	}
}

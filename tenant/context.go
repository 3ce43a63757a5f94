package tenant

import "context"

type ctxKey struct{}

// valueCtx carries a tenant id, the subject of the principal, if any, and
// the tenant's client, if any. It is its own context value, so storing them
// costs one allocation and reading them none, where context.WithValue would
// box the string as well and take one value per call.
type valueCtx struct {
	context.Context
	id      string
	subject string
	client  any
}

func (c *valueCtx) Value(key any) any {
	if key == (ctxKey{}) {
		return c
	}
	return c.Context.Value(key)
}

func (c *valueCtx) String() string {
	return contextName(c.Context) + ".WithTenant(" + c.id + ")"
}

func contextName(c context.Context) string {
	if s, ok := c.(interface{ String() string }); ok {
		return s.String()
	}
	return "context"
}

// NewContext returns a copy of ctx carrying tenant id. It is safe for
// concurrent use, like every context.
func NewContext(ctx context.Context, id string) context.Context {
	return &valueCtx{Context: ctx, id: id}
}

// FromContext returns the tenant id stored in ctx by NewContext (and so by
// Middleware), and whether there was one.
func FromContext(ctx context.Context) (string, bool) {
	c, ok := ctx.Value(ctxKey{}).(*valueCtx)
	if !ok {
		return "", false
	}
	return c.id, true
}

// ClientFromContext returns the tenant's client that Middleware stored in
// ctx, and whether there was one of type C. C is the type of the Registry's
// clients, for example *ent.Client.
func ClientFromContext[C any](ctx context.Context) (C, bool) {
	c, ok := ctx.Value(ctxKey{}).(*valueCtx)
	if !ok {
		var zero C
		return zero, false
	}
	client, ok := c.client.(C)
	return client, ok
}

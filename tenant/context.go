package tenant

import "context"

type ctxKey struct{}

// valueCtx carries a tenant id and the subject of the principal, if any. It is its own context value, so storing the
// id costs one allocation and reading it none, where context.WithValue would
// box the string as well.
type valueCtx struct {
	context.Context
	id      string
	subject string
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

// NewContext returns a copy of ctx carrying tenant id. The tenant's
// *ent.Client travels separately, with ent.NewContext. It is safe for
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

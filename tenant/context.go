package tenant

import "context"

type ctxKey struct{}

// NewContext returns a copy of ctx carrying tenant id. The tenant's
// *ent.Client travels separately, with ent.NewContext.
func NewContext(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the tenant id stored in ctx by NewContext (and so by
// Middleware), and whether there was one.
func FromContext(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(ctxKey{}).(string)
	return id, ok
}

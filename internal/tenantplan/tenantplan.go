// Package tenantplan links the tenants of the directory (package
// tenant/migrate) to the reference service's plans: one row of
// public.tenant_plans per tenant that has a plan.
package tenantplan

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/ent/plan"
	"github.com/pgtenant/pgtenant/ent/tenantplan"
)

// ErrUnknownPlan is returned by Resolve for a reference that is neither the
// id nor the name of exactly one plan.
var ErrUnknownPlan = errors.New("unknown plan")

// Resolve returns the id of the plan whose id or name is ref.
func Resolve(ctx context.Context, c *ent.Client, ref string) (uuid.UUID, error) {
	if u, err := uuid.Parse(ref); err == nil {
		ok, err := c.Plan.Query().Where(plan.ID(u)).Exist(ctx)
		switch {
		case err != nil:
			return uuid.Nil, fmt.Errorf("plan: %w", err)
		case !ok:
			return uuid.Nil, fmt.Errorf("%w %q", ErrUnknownPlan, ref)
		}
		return u, nil
	}
	ids, err := c.Plan.Query().Where(plan.Name(ref)).Limit(2).IDs(ctx)
	switch {
	case err != nil:
		return uuid.Nil, fmt.Errorf("plan: %w", err)
	case len(ids) == 0:
		return uuid.Nil, fmt.Errorf("%w %q", ErrUnknownPlan, ref)
	case len(ids) > 1:
		return uuid.Nil, fmt.Errorf("%w: several plans are named %q; give its id", ErrUnknownPlan, ref)
	}
	return ids[0], nil
}

// inTx returns the shared client over tx.
func inTx(tx *sql.Tx) *ent.Client {
	return ent.ClientForTenant(entsql.NewDriver(dialect.Postgres, entsql.Conn{ExecQuerier: tx}), "")
}

// Set returns a function, for migrate.CreateOptions.Then, that makes plan
// the plan of tenant id in the transaction that activates it.
func Set(id string, plan uuid.UUID) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		err := inTx(tx).TenantPlan.Create().SetID(id).SetPlanID(plan).
			OnConflictColumns(tenantplan.FieldID).UpdatePlanID().Exec(ctx)
		if err != nil {
			return fmt.Errorf("set plan: %w", err)
		}
		return nil
	}
}

// Copy returns a function, for migrate.CloneOptions.Then, that gives tenant
// to the plan of tenant from, or none when from has none.
func Copy(from, to string) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		c := inTx(tx)
		if _, err := c.TenantPlan.Delete().Where(tenantplan.ID(to)).Exec(ctx); err != nil {
			return fmt.Errorf("copy plan: %w", err)
		}
		src, err := c.TenantPlan.Get(ctx, from)
		switch {
		case ent.IsNotFound(err):
			return nil
		case err != nil:
			return fmt.Errorf("copy plan: %w", err)
		}
		if err := c.TenantPlan.Create().SetID(to).SetPlanID(src.PlanID).Exec(ctx); err != nil {
			return fmt.Errorf("copy plan: %w", err)
		}
		return nil
	}
}

// ofBatch bounds the ids of one query of Of: PostgreSQL takes at most
// 65,535 parameters a statement.
const ofBatch = 1000

// Of returns the plans of the tenants ids that have one, with one query per
// thousand ids.
func Of(ctx context.Context, c *ent.Client, ids ...string) (map[string]uuid.UUID, error) {
	out := make(map[string]uuid.UUID)
	for batch := range slices.Chunk(ids, ofBatch) {
		links, err := c.TenantPlan.Query().Where(tenantplan.IDIn(batch...)).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("plans of tenants: %w", err)
		}
		for _, l := range links {
			out[l.ID] = l.PlanID
		}
	}
	return out, nil
}

// Forget removes the plan of tenant id, once it is dropped.
func Forget(ctx context.Context, c *ent.Client, id string) error {
	if _, err := c.TenantPlan.Delete().Where(tenantplan.ID(id)).Exec(ctx); err != nil {
		return fmt.Errorf("forget plan of tenant %q: %w", id, err)
	}
	return nil
}

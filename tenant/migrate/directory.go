package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/internal/directory"
)

// Tenant is a tenant's row in the directory, public.tenants.
type Tenant struct {
	ID     string
	Schema string
	// Status is one of "provisioning", "active", "suspended", "dropping"
	// and "failed"; only an active tenant is served.
	Status string
	// StatusReason says why the tenant is suspended or failed; "" otherwise.
	StatusReason string
	// Revision is the latest tenant migration applied to the schema, ""
	// before the first.
	Revision  string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// tenantColumns are the columns scanTenant reads, in its order.
const tenantColumns = "id, schema_name, status, coalesce(status_reason, ''), coalesce(revision, ''), created_at, updated_at"

type scanner interface{ Scan(dest ...any) error }

func scanTenant(s scanner) (*Tenant, error) {
	t := &Tenant{}
	if err := s.Scan(&t.ID, &t.Schema, &t.Status, &t.StatusReason, &t.Revision, &t.CreatedAt, &t.UpdatedAt); err != nil {
		return nil, err
	}
	return t, nil
}

// GetTenant returns tenant id's directory row, in any status. The error
// wraps tenant.ErrNotFound when there is none, tenant.ErrInvalidID for a
// bad id.
func (m *Migrator) GetTenant(ctx context.Context, id string) (*Tenant, error) {
	if err := tenant.ValidateID(id); err != nil {
		return nil, err
	}
	t, err := scanTenant(m.db.QueryRowContext(ctx, "SELECT "+tenantColumns+" FROM "+directory.Table+" WHERE id = $1", id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("%w: tenant %q", tenant.ErrNotFound, id)
	case err != nil:
		return nil, fmt.Errorf("directory: %w", err)
	}
	return t, nil
}

// ListOptions page through the directory.
type ListOptions struct {
	// After, if not empty, lists only the tenants whose id sorts after it:
	// the last id of the previous page.
	After string
	// Limit is the most tenants returned; zero or less means all.
	Limit int
}

// ListTenants returns the rows of the tenant directory, in any status,
// ordered by id, from opts.After on, at most opts.Limit of them. It is one
// indexed query, whatever the size of the directory.
func (m *Migrator) ListTenants(ctx context.Context, opts ListOptions) ([]*Tenant, error) {
	limit := any(nil) // LIMIT NULL is no limit
	if opts.Limit > 0 {
		limit = opts.Limit
	}
	rows, err := m.db.QueryContext(ctx, "SELECT "+tenantColumns+" FROM "+directory.Table+
		" WHERE id > $1 ORDER BY id LIMIT $2", opts.After, limit)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	defer rows.Close()
	var ts []*Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, fmt.Errorf("list tenants: %w", err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return ts, nil
}

package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/lib/pq"

	"github.com/pgtenant/pgtenant/tenant"
)

// ErrWrongStatus is returned when a tenant's directory status does not allow
// the operation (suspending a tenant that is being provisioned, resuming one
// that is not suspended, cloning into an active tenant, ...). The error names
// the status.
var ErrWrongStatus = errors.New("migrate: tenant status does not allow this")

// MaxReasonLen is the longest status reason kept in the directory, in
// characters; a longer reason is cut.
const MaxReasonLen = 500

// SuspendTenant marks tenant id suspended, with reason (which may be empty),
// and announces the change on tenant.DirectoryChannel in the same
// transaction. Every registry listening then evicts the tenant's pool
// (closed once its running requests release it) and answers its requests
// with tenant.ErrSuspended. The tenant's schema and data are untouched and
// MigrateAll still migrates it. Suspending a suspended tenant updates the
// reason. Errors wrap tenant.ErrInvalidID, tenant.ErrNotFound, or
// ErrWrongStatus for a tenant that is not active or suspended.
func (m *Migrator) SuspendTenant(ctx context.Context, id, reason string) (*Tenant, error) {
	var r *string
	if reason = cut(reason, MaxReasonLen); reason != "" {
		r = &reason
	}
	t, err := m.setStatus(ctx, id, "suspended", r, "active", "suspended")
	if err != nil {
		return nil, fmt.Errorf("suspend tenant %q: %w", id, err)
	}
	m.log.InfoContext(ctx, "tenant suspended", "tenant", id, "reason", reason)
	return t, nil
}

// ResumeTenant marks the suspended tenant id active again, clears its reason
// and announces the change on tenant.DirectoryChannel; registries serve it
// again from their next request. Resuming an active tenant does nothing.
// Errors wrap tenant.ErrInvalidID, tenant.ErrNotFound, or ErrWrongStatus for
// a tenant that is neither suspended nor active.
func (m *Migrator) ResumeTenant(ctx context.Context, id string) (*Tenant, error) {
	t, err := m.setStatus(ctx, id, "active", nil, "suspended", "active")
	if err != nil {
		return nil, fmt.Errorf("resume tenant %q: %w", id, err)
	}
	m.log.InfoContext(ctx, "tenant resumed", "tenant", id)
	return t, nil
}

// setStatus moves tenant id from one of the statuses from to status (with
// reason). The directory's trigger announces the change on
// tenant.DirectoryChannel when it commits.
func (m *Migrator) setStatus(ctx context.Context, id, status string, reason *string, from ...string) (*Tenant, error) {
	schema, err := m.namer.Schema(id)
	if err != nil {
		return nil, err
	}
	var old string
	err = m.db.QueryRowContext(ctx, `
WITH old AS (
	SELECT id, status FROM public.tenants WHERE id = $1 FOR UPDATE
), up AS (
	UPDATE public.tenants t SET status = $2, status_reason = $3, updated_at = now()
	FROM old WHERE t.id = old.id AND old.status = ANY($4)
	RETURNING t.id
)
SELECT status FROM old`,
		id, status, reason, pq.Array(from)).Scan(&old)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, tenant.ErrNotFound
	case err != nil:
		return nil, fmt.Errorf("directory: %w", err)
	}
	okFrom := false
	for _, f := range from {
		okFrom = okFrom || f == old
	}
	if !okFrom {
		return nil, fmt.Errorf("%w: tenant is %s", ErrWrongStatus, old)
	}
	t, err := m.GetTenant(ctx, id)
	if err != nil {
		return nil, err
	}
	if t.Schema != schema {
		return t, fmt.Errorf("directory names schema %s, the Namer %s", t.Schema, schema)
	}
	return t, nil
}

// cut returns s as valid UTF-8 without NUL characters (which PostgreSQL
// text cannot hold), cut to at most n characters.
func cut(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

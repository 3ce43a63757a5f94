package handlers

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/pgtenant/pgtenant/internal/tenantplan"
	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/migrate"
)

// poolsResponse is GET /admin/pools: the original's {"count":N} plus the
// registry's statistics.
type poolsResponse struct {
	Count     int               `json:"count"`
	Mode      string            `json:"mode"`
	MaxPools  int               `json:"maxPools"` // Stats.MaxClients
	Hits      uint64            `json:"hits"`
	Misses    uint64            `json:"misses"`
	Evictions map[string]uint64 `json:"evictions"`
	Conns     int               `json:"conns"`
	Spares    int               `json:"spares"`
	MaxConns  int               `json:"maxConns"`
	ConnWaits uint64            `json:"connWaits"`
	Shared    poolStats         `json:"shared"`
	Pools     []poolStats       `json:"pools"`
}

type poolStats struct {
	ID              string     `json:"id,omitempty"`
	OpenConnections int        `json:"openConnections"`
	InUse           int        `json:"inUse"`
	Idle            int        `json:"idle"`
	WaitCount       int64      `json:"waitCount"`
	Leases          int        `json:"leases"`
	LastUsed        *time.Time `json:"lastUsed,omitempty"`
}

func newPoolStats(s tenant.ClientStats) poolStats {
	ps := poolStats{
		ID:              s.ID,
		OpenConnections: s.OpenConnections,
		InUse:           s.InUse,
		Idle:            s.Idle,
		WaitCount:       s.WaitCount,
		Leases:          s.Leases,
	}
	if !s.LastUsed.IsZero() {
		ps.LastUsed = &s.LastUsed
	}
	return ps
}

// pools serves GET /admin/pools, behind the admin token: the pool ids are
// tenant ids.
func (a *API) pools(w http.ResponseWriter, r *http.Request) error {
	st := a.reg.Stats()
	resp := poolsResponse{
		Count:     st.Clients,
		Mode:      st.Mode.String(),
		MaxPools:  st.MaxClients,
		Hits:      st.Hits,
		Misses:    st.Misses,
		Evictions: make(map[string]uint64, len(st.Evictions)),
		Conns:     st.Conns,
		Spares:    st.Spares,
		MaxConns:  st.MaxConns,
		ConnWaits: st.ConnWaits,
		Shared:    newPoolStats(st.Shared),
		Pools:     make([]poolStats, len(st.Tenants)),
	}
	for reason, n := range st.Evictions {
		resp.Evictions[string(reason)] = n
	}
	for i, s := range st.Tenants {
		resp.Pools[i] = newPoolStats(s)
	}
	return a.encode(w, r, http.StatusOK, resp)
}

// requireAdmin admits requests bearing "Authorization: Bearer <AdminToken>"
// (compared in constant time); others get 401. Without a configured token the
// routes behind it do not exist (404).
func (a *API) requireAdmin(next http.Handler) http.Handler {
	want := []byte(a.opts.AdminToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(want) == 0 {
			a.writeError(w, r, errorf(http.StatusNotFound, "Not found"))
			return
		}
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") ||
			subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="admin"`)
			a.writeError(w, r, errorf(http.StatusUnauthorized, "Unauthorized"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// tenantResponse is the wire form of a tenant directory entry.
type tenantResponse struct {
	ID         string     `json:"id"`
	SchemaName string     `json:"schemaName"`
	PlanID     *uuid.UUID `json:"planId"`
	Status     string     `json:"status"`
	CreatedAt  time.Time  `json:"createdAt"`
	UpdatedAt  time.Time  `json:"updatedAt"`
}

func newTenantResponse(t *migrate.Tenant, plans map[string]uuid.UUID) tenantResponse {
	r := tenantResponse{ID: t.ID, SchemaName: t.Schema,
		Status: t.Status, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
	if p, ok := plans[t.ID]; ok {
		r.PlanID = &p
	}
	return r
}

// tenantResponses returns the wire form of ts, with their plans.
func (a *API) tenantResponses(ctx context.Context, ts ...*migrate.Tenant) ([]tenantResponse, error) {
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	plans, err := tenantplan.Of(ctx, a.reg.Shared(), ids...)
	if err != nil {
		return nil, err
	}
	return listOf(ts, func(t *migrate.Tenant) tenantResponse { return newTenantResponse(t, plans) }), nil
}

// encodeTenant writes t, with its plan, with status.
func (a *API) encodeTenant(w http.ResponseWriter, r *http.Request, status int, t *migrate.Tenant) error {
	l, err := a.tenantResponses(r.Context(), t)
	if err != nil {
		return err
	}
	return a.encode(w, r, status, l[0])
}

type createTenantRequest struct {
	ID   string `json:"id" validate:"required"`
	Plan string `json:"plan" validate:"omitempty,nonul,max=100"`
}

// maxTenantPage bounds the limit query parameter of GET /admin/tenants.
const maxTenantPage = 1000

// listTenants serves GET /admin/tenants: the directory ordered by id, all of
// it, or a page with ?limit=N (at most 1000), from ?after=ID on (the last
// id of the previous page).
func (a *API) listTenants(w http.ResponseWriter, r *http.Request) error {
	var opts migrate.ListOptions
	q := r.URL.Query()
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxTenantPage {
			return invalidField("limit", "must be a whole number from 1 to 1000")
		}
		opts.Limit = n
	}
	if v := q.Get("after"); v != "" {
		if err := tenant.ValidateID(v); err != nil {
			return invalidField("after", "must be a tenant id")
		}
		opts.After = v
	}
	ts, err := a.opts.Migrator.ListTenants(r.Context(), opts)
	if err != nil {
		return fmt.Errorf("list tenants: %w", err)
	}
	l, err := a.tenantResponses(r.Context(), ts...)
	if err != nil {
		return err
	}
	return a.encode(w, r, http.StatusOK, l)
}

// createTenant serves POST /admin/tenants: provision (idempotently) the
// tenant's directory row and migrated schema.
func (a *API) createTenant(w http.ResponseWriter, r *http.Request) error {
	req, err := decode[createTenantRequest](a, w, r)
	if err != nil {
		return err
	}
	if err := tenant.ValidateID(req.ID); err != nil {
		return invalidField("id", "must be a lower-case slug or UUID")
	}
	var opts migrate.CreateOptions
	if req.Plan != "" {
		plan, err := tenantplan.Resolve(r.Context(), a.reg.Shared(), req.Plan)
		if errors.Is(err, tenantplan.ErrUnknownPlan) {
			return invalidField("plan", "must be the id or name of a plan")
		} else if err != nil {
			return err
		}
		opts.Then = tenantplan.Set(req.ID, plan)
	}
	t, err := a.opts.Migrator.CreateTenant(r.Context(), req.ID, opts)
	if err != nil {
		return createTenantError(req.ID, err)
	}
	return a.encodeTenant(w, r, http.StatusCreated, t)
}

// createTenantError is the error answered for a failed CreateTenant of id.
func createTenantError(id string, err error) error {
	switch {
	case errors.Is(err, tenant.ErrInvalidID):
		return invalidField("id", "must be a lower-case slug or UUID")
	case errors.Is(err, tenantplan.ErrUnknownPlan):
		return invalidField("plan", "must be the id or name of a plan")
	}
	return fmt.Errorf("create tenant %q: %w", id, err)
}

// dropTenant serves DELETE /admin/tenants/{id}: drop the schema and the
// directory row, then evict the tenant's client from this process's
// registry (others learn of it through the directory).
func (a *API) dropTenant(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := a.opts.Migrator.DropTenant(r.Context(), id); err != nil {
		return fmt.Errorf("drop tenant %q: %w", id, err)
	}
	a.reg.Evict(id)
	if err := tenantplan.Forget(r.Context(), a.reg.Shared(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/migrate"
)

type suspendTenantRequest struct {
	Reason string `json:"reason" validate:"max=500,nonul"`
}

// suspendTenant serves POST /admin/tenants/{id}/suspend, with an optional
// body {"reason": "..."}: the tenant's requests get 403 Tenant suspended in
// every process (through the directory notification), its data is kept.
func (a *API) suspendTenant(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := tenant.ValidateID(id); err != nil {
		return err
	}
	var req suspendTenantRequest
	if r.ContentLength != 0 {
		var err error
		if req, err = decode[suspendTenantRequest](a, w, r); err != nil {
			return err
		}
	}
	t, err := a.opts.Migrator.SuspendTenant(r.Context(), id, req.Reason)
	if err != nil {
		return lifecycleError(err)
	}
	a.reg.Evict(id)
	return a.encodeTenant(w, r, http.StatusOK, t)
}

// resumeTenant serves POST /admin/tenants/{id}/resume: a suspended tenant
// is served again.
func (a *API) resumeTenant(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := tenant.ValidateID(id); err != nil {
		return err
	}
	t, err := a.opts.Migrator.ResumeTenant(r.Context(), id)
	if err != nil {
		return lifecycleError(err)
	}
	a.reg.Evict(id)
	return a.encodeTenant(w, r, http.StatusOK, t)
}

// lifecycleError maps a status change the tenant's status refuses to 409.
func lifecycleError(err error) error {
	if errors.Is(err, migrate.ErrWrongStatus) {
		return &statusError{status: http.StatusConflict, msg: "Tenant status does not allow this", err: err}
	}
	return fmt.Errorf("tenant lifecycle: %w", err)
}

package handlers

import (
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/ent/plan"
)

// planResponse is the wire form of a plan.
type planResponse struct {
	ID       uuid.UUID `json:"id"`
	Name     string    `json:"name"`
	MaxUsers *string   `json:"maxUsers"`
	Price    *string   `json:"price"`
}

func newPlanResponse(p *ent.Plan) planResponse {
	return planResponse{ID: p.ID, Name: p.Name, MaxUsers: p.MaxUsers, Price: p.Price}
}

type createPlanRequest struct {
	Name     string  `json:"name" validate:"required,max=100,nonul"`
	MaxUsers *string `json:"maxUsers" validate:"omitnil,max=50,nonul"`
	Price    *string `json:"price" validate:"omitnil,max=50,nonul"`
}

// updatePlanRequest is partial: absent (or null) fields are unchanged.
type updatePlanRequest struct {
	Name     *string `json:"name" validate:"omitnil,min=1,max=100,nonul"`
	MaxUsers *string `json:"maxUsers" validate:"omitnil,max=50,nonul"`
	Price    *string `json:"price" validate:"omitnil,max=50,nonul"`
}

var (
	errPlanNotFound = errorf(http.StatusNotFound, "Plan not found")
	errPlanInUse    = errorf(http.StatusConflict, "Plan is in use by a tenant")
)

// listPlans serves GET /plans from the shared (public) client; it needs no
// tenant.
func (a *API) listPlans(w http.ResponseWriter, r *http.Request) error {
	limit, offset, err := page(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	ps, err := a.reg.Shared().Plan.Query().
		Order(ent.Asc(plan.FieldName), ent.Asc(plan.FieldID)).
		Limit(limit).Offset(offset).
		All(ctx)
	if err != nil {
		return fmt.Errorf("list plans: %w", err)
	}
	return a.encode(w, r, http.StatusOK, listOf(ps, newPlanResponse))
}

func (a *API) getPlan(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	p, err := a.reg.Shared().Plan.Get(r.Context(), id)
	switch {
	case ent.IsNotFound(err):
		return errPlanNotFound
	case err != nil:
		return fmt.Errorf("get plan: %w", err)
	}
	return a.encode(w, r, http.StatusOK, newPlanResponse(p))
}

func (a *API) createPlan(w http.ResponseWriter, r *http.Request) error {
	req, err := decode[createPlanRequest](a, w, r)
	if err != nil {
		return err
	}
	p, err := a.reg.Shared().Plan.Create().
		SetName(req.Name).
		SetNillableMaxUsers(req.MaxUsers).
		SetNillablePrice(req.Price).
		Save(r.Context())
	if err != nil {
		return fmt.Errorf("create plan: %w", err)
	}
	w.Header().Set("Location", "/plans/"+p.ID.String())
	return a.encode(w, r, http.StatusCreated, newPlanResponse(p))
}

func (a *API) updatePlan(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	req, err := decode[updatePlanRequest](a, w, r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	var p *ent.Plan
	if req.Name == nil && req.MaxUsers == nil && req.Price == nil {
		p, err = a.reg.Shared().Plan.Get(ctx, id)
	} else {
		p, err = a.reg.Shared().Plan.UpdateOneID(id).
			SetNillableName(req.Name).
			SetNillableMaxUsers(req.MaxUsers).
			SetNillablePrice(req.Price).
			Save(ctx)
	}
	switch {
	case ent.IsNotFound(err):
		return errPlanNotFound
	case err != nil:
		return fmt.Errorf("update plan: %w", err)
	}
	return a.encode(w, r, http.StatusOK, newPlanResponse(p))
}

// deletePlan serves DELETE /admin/plans/{id}; a plan that a tenant still
// references is not deleted (409).
func (a *API) deletePlan(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	err = a.reg.Shared().Plan.DeleteOneID(id).Exec(r.Context())
	switch {
	case ent.IsNotFound(err):
		return errPlanNotFound
	case ent.IsConstraintError(err):
		return errPlanInUse
	case err != nil:
		return fmt.Errorf("delete plan: %w", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/google/uuid"

	"github.com/pgtenant/pgtenant/internal/bulk"
	"github.com/pgtenant/pgtenant/internal/tenantplan"
	"github.com/pgtenant/pgtenant/tenant/migrate"
)

// MaxBatchIDs is the most tenant ids one POST /admin/tenants/batch takes;
// more are answered 413.
const MaxBatchIDs = 1000

// DefaultBatchConcurrency is Options.BatchConcurrency when it is zero.
const DefaultBatchConcurrency = 4

// Statuses of a tenant in the answer of POST /admin/tenants/batch.
const (
	batchCreated    = "created"
	batchFailed     = "failed"
	batchNotStarted = "notStarted"
)

type createTenantsRequest struct {
	IDs  []string `json:"ids" validate:"required,min=1"`
	Plan string   `json:"plan" validate:"omitempty,nonul,max=100"`
}

// batchResult is the outcome for one id. A failed one carries the status
// and error body that POST /admin/tenants would have answered for it.
type batchResult struct {
	ID     string            `json:"id"`
	Status string            `json:"status"`
	Code   int               `json:"code,omitempty"`
	Error  string            `json:"error,omitempty"`
	Fields map[string]string `json:"fields,omitempty"`
}

type batchSummary struct {
	Total      int `json:"total"`
	Created    int `json:"created"`
	Failed     int `json:"failed"`
	NotStarted int `json:"notStarted"`
}

type batchResponse struct {
	Results []batchResult `json:"results"`
	Summary batchSummary  `json:"summary"`
}

// createTenants serves POST /admin/tenants/batch: provision each distinct
// id as POST /admin/tenants would, Options.BatchConcurrency at once. It
// answers 200 when every tenant was created, else 207 with the failures:
// one result per distinct id, in request order. Once the request's context
// ends (its deadline, or the client going away) no more tenants are
// started; the ones not started are reported so, to be sent again.
func (a *API) createTenants(w http.ResponseWriter, r *http.Request) error {
	req, err := decode[createTenantsRequest](a, w, r)
	if err != nil {
		return err
	}
	if len(req.IDs) > MaxBatchIDs {
		return errorf(http.StatusRequestEntityTooLarge, fmt.Sprintf("Too many ids: at most %d per request", MaxBatchIDs))
	}
	ctx := r.Context()
	// An unknown plan would fail every tenant alike: answered as POST
	// /admin/tenants answers it, before any is created.
	var plan uuid.UUID
	if req.Plan != "" {
		if plan, err = tenantplan.Resolve(ctx, a.reg.Shared(), req.Plan); err != nil {
			return createTenantError("", err)
		}
	}
	create := func(ctx context.Context, id string) error {
		var opts migrate.CreateOptions
		if req.Plan != "" {
			opts.Then = tenantplan.Set(id, plan)
		}
		_, err := a.opts.Migrator.CreateTenant(ctx, id, opts)
		return err
	}
	opts := bulk.Options{Concurrency: a.opts.BatchConcurrency}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultBatchConcurrency
	}
	rs := bulk.Run(ctx, req.IDs, create, opts)
	resp := batchResponse{Results: make([]batchResult, len(rs)), Summary: batchSummary{Total: len(rs)}}
	for i, res := range rs {
		br := batchResult{ID: res.ID, Status: batchCreated}
		switch {
		case errors.Is(res.Err, bulk.ErrNotStarted):
			br.Status = batchNotStarted
			resp.Summary.NotStarted++
		case res.Err != nil:
			br.Status = batchFailed
			br.Code, br.Error, br.Fields = a.batchError(r, res.ID, res.Err)
			resp.Summary.Failed++
		default:
			resp.Summary.Created++
		}
		resp.Results[i] = br
	}
	status := http.StatusOK
	if resp.Summary.Created < resp.Summary.Total {
		status = http.StatusMultiStatus
	}
	return a.encode(w, r, status, resp)
}

// batchError classifies the error of one tenant of a batch as writeError
// would the error of POST /admin/tenants, and logs the cause of a 5xx.
func (a *API) batchError(r *http.Request, id string, err error) (int, string, map[string]string) {
	ctx := r.Context()
	status, body := classify(createTenantError(id, err))
	if status >= 500 && ctx.Err() != nil {
		// Cancelled with the request: lib/pq reports the server's 57014,
		// not the context's error.
		status, body = classify(ctx.Err())
	}
	if status >= 500 {
		a.log.ErrorContext(ctx, "batch tenant failed",
			"request_id", middleware.GetReqID(ctx), "tenant", id, "status", status, "err", err)
	}
	return status, body.Error, body.Fields
}

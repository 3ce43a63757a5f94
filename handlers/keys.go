package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/apikey"
)

// keyResponse is the wire form of an API key's description; it never holds
// the key.
type keyResponse struct {
	Prefix     string     `json:"prefix"`
	TenantID   string     `json:"tenantId"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"createdAt"`
	ExpiresAt  *time.Time `json:"expiresAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
	RevokedAt  *time.Time `json:"revokedAt"`
}

func newKeyResponse(k apikey.Key) keyResponse {
	return keyResponse{Prefix: k.Prefix, TenantID: k.Tenant, Name: k.Name, CreatedAt: k.CreatedAt,
		ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt}
}

// createdKeyResponse is POST /admin/tenants/{id}/keys: the description and,
// this once, the key.
type createdKeyResponse struct {
	keyResponse
	Key string `json:"key"`
}

type createKeyRequest struct {
	Name string `json:"name" validate:"omitempty,nonul,max=100"`
	// ExpiresIn is a Go duration ("720h"); empty: the key does not expire.
	ExpiresIn string `json:"expiresIn" validate:"omitempty,max=32"`
}

// createKey serves POST /admin/tenants/{id}/keys.
func (a *API) createKey(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := tenant.ValidateID(id); err != nil {
		return err
	}
	req, err := decode[createKeyRequest](a, w, r)
	if err != nil {
		return err
	}
	var ttl time.Duration
	if req.ExpiresIn != "" {
		if ttl, err = time.ParseDuration(req.ExpiresIn); err != nil || ttl <= 0 {
			return invalidField("expiresIn", "must be a positive duration such as 720h")
		}
	}
	key, k, err := a.opts.Keys.Create(r.Context(), id, apikey.CreateOptions{Name: req.Name, TTL: ttl})
	if err != nil {
		return fmt.Errorf("create key of tenant %q: %w", id, err)
	}
	w.Header().Set("Cache-Control", "no-store")
	return a.encode(w, r, http.StatusCreated, createdKeyResponse{newKeyResponse(k), key})
}

// listKeys serves GET /admin/tenants/{id}/keys.
func (a *API) listKeys(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	ks, err := a.opts.Keys.List(r.Context(), id)
	if err != nil {
		return fmt.Errorf("list keys of tenant %q: %w", id, err)
	}
	out := make([]keyResponse, len(ks))
	for i, k := range ks {
		out[i] = newKeyResponse(k)
	}
	return a.encode(w, r, http.StatusOK, out)
}

// revokeKey serves DELETE /admin/tenants/{id}/keys/{prefix}: the key stops
// working in every process listening on apikey.Channel at once.
func (a *API) revokeKey(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := tenant.ValidateID(id); err != nil {
		return err
	}
	err := a.opts.Keys.Revoke(r.Context(), id, r.PathValue("prefix"))
	if errors.Is(err, apikey.ErrNotFound) {
		return errorf(http.StatusNotFound, "Key not found")
	}
	if err != nil {
		return fmt.Errorf("revoke key of tenant %q: %w", id, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/google/uuid"

	"github.com/pgtenant/pgtenant/examples/notes/ent"
	"github.com/pgtenant/pgtenant/examples/notes/ent/note"
	"github.com/pgtenant/pgtenant/examples/notes/ent/notebook"
	"github.com/pgtenant/pgtenant/tenant"
)

// routes returns the whole API. Accounts are shared and served by the
// registry's shared client; everything else needs the X-Tenant-ID header and
// is served by that tenant's client:
//
//	GET    /accounts                 list the accounts
//	POST   /accounts                 {"name", "plan"} → 201 account
//	GET    /notebooks                list the tenant's notebooks
//	POST   /notebooks                {"title"} → 201 notebook
//	GET    /notebooks/{id}           one notebook
//	DELETE /notebooks/{id}           204; its notes go with it
//	GET    /notebooks/{id}/notes     the notebook's notes
//	POST   /notebooks/{id}/notes     {"title", "body"} → 201 note
//	GET    /notes/{id}               one note
//	DELETE /notes/{id}               204
//
// Errors are {"error": message}: 400 for a malformed body or id, 404 for an
// unknown tenant, notebook or note, 422 for an invalid field, and the
// statuses of tenant.ErrorStatus otherwise.
func routes(reg *tenant.Registry[*ent.Client]) http.Handler {
	a := &api{reg: reg}
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Get("/accounts", wrap(a.listAccounts))
	r.Post("/accounts", wrap(a.createAccount))
	r.Group(func(r chi.Router) {
		r.Use(tenant.Middleware(reg, tenant.MiddlewareOptions{}))
		r.Get("/notebooks", wrap(listNotebooks))
		r.Post("/notebooks", wrap(createNotebook))
		r.Get("/notebooks/{id}", wrap(getNotebook))
		r.Delete("/notebooks/{id}", wrap(deleteNotebook))
		r.Get("/notebooks/{id}/notes", wrap(listNotes))
		r.Post("/notebooks/{id}/notes", wrap(createNote))
		r.Get("/notes/{id}", wrap(getNote))
		r.Delete("/notes/{id}", wrap(deleteNote))
	})
	return r
}

// api holds what the shared routes need; the tenant routes find their client
// in the request context.
type api struct {
	reg *tenant.Registry[*ent.Client]
}

type account struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	Plan string `json:"plan"`
}

func (a *api) listAccounts(w http.ResponseWriter, r *http.Request) error {
	accounts, err := a.reg.Shared().Account.Query().Order(ent.Asc("id")).All(r.Context())
	if err != nil {
		return err
	}
	out := make([]account, len(accounts))
	for i, acc := range accounts {
		out[i] = account{ID: acc.ID, Name: acc.Name, Plan: acc.Plan}
	}
	write(w, http.StatusOK, out)
	return nil
}

func (a *api) createAccount(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name string `json:"name"`
		Plan string `json:"plan"`
	}
	if err := read(r, &req); err != nil {
		return err
	}
	create := a.reg.Shared().Account.Create().SetName(req.Name)
	if req.Plan != "" {
		create.SetPlan(req.Plan)
	}
	acc, err := create.Save(r.Context())
	if err != nil {
		return err
	}
	write(w, http.StatusCreated, account{ID: acc.ID, Name: acc.Name, Plan: acc.Plan})
	return nil
}

type notebookJSON struct {
	ID    uuid.UUID `json:"id"`
	Title string    `json:"title"`
}

func listNotebooks(w http.ResponseWriter, r *http.Request) error {
	nbs, err := client(r).Notebook.Query().Order(ent.Asc(notebook.FieldTitle), ent.Asc(notebook.FieldID)).All(r.Context())
	if err != nil {
		return err
	}
	out := make([]notebookJSON, len(nbs))
	for i, nb := range nbs {
		out[i] = notebookJSON{ID: nb.ID, Title: nb.Title}
	}
	write(w, http.StatusOK, out)
	return nil
}

func createNotebook(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Title string `json:"title"`
	}
	if err := read(r, &req); err != nil {
		return err
	}
	nb, err := client(r).Notebook.Create().SetTitle(req.Title).Save(r.Context())
	if err != nil {
		return err
	}
	write(w, http.StatusCreated, notebookJSON{ID: nb.ID, Title: nb.Title})
	return nil
}

func getNotebook(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	nb, err := client(r).Notebook.Get(r.Context(), id)
	if err != nil {
		return notFound(err, "Notebook")
	}
	write(w, http.StatusOK, notebookJSON{ID: nb.ID, Title: nb.Title})
	return nil
}

func deleteNotebook(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := client(r).Notebook.DeleteOneID(id).Exec(r.Context()); err != nil {
		return notFound(err, "Notebook")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type noteJSON struct {
	ID         uuid.UUID `json:"id"`
	NotebookID uuid.UUID `json:"notebookId"`
	Title      string    `json:"title"`
	Body       string    `json:"body"`
}

func newNoteJSON(n *ent.Note) noteJSON {
	return noteJSON{ID: n.ID, NotebookID: n.NotebookID, Title: n.Title, Body: n.Body}
}

func listNotes(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	c := client(r)
	// An unknown notebook is 404, not an empty list.
	if _, err := c.Notebook.Get(r.Context(), id); err != nil {
		return notFound(err, "Notebook")
	}
	notes, err := c.Note.Query().
		Where(note.NotebookID(id)).
		Order(ent.Asc(note.FieldTitle), ent.Asc(note.FieldID)).
		All(r.Context())
	if err != nil {
		return err
	}
	out := make([]noteJSON, len(notes))
	for i, n := range notes {
		out[i] = newNoteJSON(n)
	}
	write(w, http.StatusOK, out)
	return nil
}

func createNote(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req struct {
		Title string `json:"title"`
		Body  string `json:"body"`
	}
	if err := read(r, &req); err != nil {
		return err
	}
	n, err := client(r).Note.Create().SetNotebookID(id).SetTitle(req.Title).SetBody(req.Body).Save(r.Context())
	if ent.IsConstraintError(err) {
		// The foreign key refers to the notebooks of the tenant's own
		// schema: a notebook of another tenant does not exist here.
		return &httpError{http.StatusNotFound, "Notebook not found"}
	}
	if err != nil {
		return err
	}
	write(w, http.StatusCreated, newNoteJSON(n))
	return nil
}

func getNote(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	n, err := client(r).Note.Get(r.Context(), id)
	if err != nil {
		return notFound(err, "Note")
	}
	write(w, http.StatusOK, newNoteJSON(n))
	return nil
}

func deleteNote(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := client(r).Note.DeleteOneID(id).Exec(r.Context()); err != nil {
		return notFound(err, "Note")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// client returns the tenant's client, which tenant.Middleware put in the
// request context of every tenant route.
func client(r *http.Request) *ent.Client {
	c, _ := tenant.ClientFromContext[*ent.Client](r.Context())
	return c
}

// httpError is an error answered with its own status and message.
type httpError struct {
	status  int
	message string
}

func (e *httpError) Error() string { return fmt.Sprintf("%d %s", e.status, e.message) }

// notFound answers Ent's not-found error as 404 "<what> not found", and
// returns any other error unchanged.
func notFound(err error, what string) error {
	if ent.IsNotFound(err) {
		return &httpError{http.StatusNotFound, what + " not found"}
	}
	return err
}

func pathID(r *http.Request) (uuid.UUID, error) {
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		return uuid.Nil, &httpError{http.StatusBadRequest, "Invalid id"}
	}
	return id, nil
}

// read decodes the JSON body of r, at most 1 MiB, into v.
func read(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return &httpError{http.StatusRequestEntityTooLarge, "Request body too large"}
		}
		return &httpError{http.StatusBadRequest, "Invalid JSON body"}
	}
	return nil
}

// write answers status with v as JSON. An error writing the body, after the
// status is sent, can only be logged.
func write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Warn("write response", "err", err)
	}
}

// wrap turns a handler that returns its error into an http.HandlerFunc
// that answers the error: httpError as it says, Ent's not-found and
// validation errors as 404 and 422, the rest as tenant.ErrorStatus maps it
// (a 500 is logged).
func wrap(h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		var he *httpError
		var ve *ent.ValidationError
		switch {
		case err == nil:
		case errors.As(err, &he):
			write(w, he.status, map[string]string{"error": he.message})
		case ent.IsNotFound(err):
			write(w, http.StatusNotFound, map[string]string{"error": "Not found"})
		case errors.As(err, &ve):
			write(w, http.StatusUnprocessableEntity, map[string]string{"error": "Invalid " + ve.Name})
		default:
			if status, _ := tenant.ErrorStatus(err); status >= 500 {
				slog.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			tenant.WriteError(w, r, err)
		}
	}
}

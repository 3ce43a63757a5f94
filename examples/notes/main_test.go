package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pgtenant/pgtenant/examples/notes/ent"
	"github.com/pgtenant/pgtenant/examples/notes/ent/migrate/migrations"
	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

var migs = tenanttest.Migrations{Public: migrations.Public(), Tenant: migrations.Tenant()}

// caller calls the API of one test server as one tenant ("" sends no
// X-Tenant-ID header).
type caller struct {
	t      *testing.T
	url    string
	tenant string
}

// do sends a request with body as JSON (none when nil), checks the status
// and decodes the response into out (when not nil).
func (c caller) do(method, path string, body any, want int, out any) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.url+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.tenant != "" {
		req.Header.Set("X-Tenant-ID", c.tenant)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s as %q: %d %s; want %d", method, path, c.tenant, resp.StatusCode, data, want)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
}

// serve starts the API over a fresh database with tenants acme and globex
// and returns clients for both.
func serve(t *testing.T, mode tenant.Mode) (acme, globex caller) {
	cfg := migs.NewDatabase(t)
	migs.NewTenant(t, cfg, "acme")
	migs.NewTenant(t, cfg, "globex")
	reg, err := tenant.New(t.Context(), tenanttest.URL(cfg), ent.ClientForTenant, tenant.Options{Mode: mode})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close(context.Background()) })
	srv := httptest.NewServer(routes(reg))
	t.Cleanup(srv.Close)
	return caller{t, srv.URL, "acme"}, caller{t, srv.URL, "globex"}
}

func TestAPI(t *testing.T) {
	for _, mode := range []tenant.Mode{tenant.SearchPath, tenant.Qualified} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			acme, globex := serve(t, mode)

			// Each tenant writes its own notebooks and notes.
			var acmeNB, globexNB notebookJSON
			acme.do("POST", "/notebooks", map[string]string{"title": "Plans"}, 201, &acmeNB)
			globex.do("POST", "/notebooks", map[string]string{"title": "Recipes"}, 201, &globexNB)
			var acmeNote, globexNote noteJSON
			acme.do("POST", "/notebooks/"+acmeNB.ID.String()+"/notes", map[string]string{"title": "Q1", "body": "ship it"}, 201, &acmeNote)
			globex.do("POST", "/notebooks/"+globexNB.ID.String()+"/notes", map[string]string{"title": "Soup"}, 201, &globexNote)
			if acmeNote.NotebookID != acmeNB.ID || acmeNote.Title != "Q1" || acmeNote.Body != "ship it" {
				t.Errorf("created note %+v; want title Q1 and body \"ship it\" in notebook %s", acmeNote, acmeNB.ID)
			}

			// Each sees only its own.
			var nbs []notebookJSON
			acme.do("GET", "/notebooks", nil, 200, &nbs)
			if len(nbs) != 1 || nbs[0] != acmeNB {
				t.Errorf("acme's notebooks = %+v; want only %+v", nbs, acmeNB)
			}
			globex.do("GET", "/notebooks", nil, 200, &nbs)
			if len(nbs) != 1 || nbs[0] != globexNB {
				t.Errorf("globex's notebooks = %+v; want only %+v", nbs, globexNB)
			}
			var notes []noteJSON
			acme.do("GET", "/notebooks/"+acmeNB.ID.String()+"/notes", nil, 200, &notes)
			if len(notes) != 1 || notes[0] != acmeNote {
				t.Errorf("acme's notes = %+v; want only %+v", notes, acmeNote)
			}
			var got noteJSON
			acme.do("GET", "/notes/"+acmeNote.ID.String(), nil, 200, &got)
			if got != acmeNote {
				t.Errorf("GET acme's note = %+v; want %+v", got, acmeNote)
			}

			// The other tenant's rows do not exist for a tenant.
			var e struct{ Error string }
			globex.do("GET", "/notes/"+acmeNote.ID.String(), nil, 404, &e)
			if e.Error != "Note not found" {
				t.Errorf("another tenant's note: error %q; want %q", e.Error, "Note not found")
			}
			globex.do("DELETE", "/notes/"+acmeNote.ID.String(), nil, 404, nil)
			globex.do("GET", "/notebooks/"+acmeNB.ID.String(), nil, 404, nil)
			globex.do("GET", "/notebooks/"+acmeNB.ID.String()+"/notes", nil, 404, nil)
			globex.do("DELETE", "/notebooks/"+acmeNB.ID.String(), nil, 404, nil)
			// Nor can a note be put in another tenant's notebook.
			globex.do("POST", "/notebooks/"+acmeNB.ID.String()+"/notes", map[string]string{"title": "Intruder"}, 404, &e)
			if e.Error != "Notebook not found" {
				t.Errorf("note in another tenant's notebook: error %q; want %q", e.Error, "Notebook not found")
			}
			acme.do("GET", "/notebooks/"+acmeNB.ID.String()+"/notes", nil, 200, &notes)
			if len(notes) != 1 {
				t.Errorf("acme's notebook holds %d notes after globex wrote to it; want 1", len(notes))
			}

			// Requests that name no served tenant or no valid id.
			caller{t, acme.url, "initech"}.do("GET", "/notebooks", nil, 404, nil)
			caller{t, acme.url, "Not A Tenant"}.do("GET", "/notebooks", nil, 400, nil)
			caller{t, acme.url, ""}.do("GET", "/notebooks", nil, 400, nil)
			acme.do("GET", "/notes/42", nil, 400, nil)
			acme.do("POST", "/notebooks", map[string]string{"title": ""}, 422, nil)
			acme.do("POST", "/notebooks", map[string]string{"name": "x"}, 400, nil)
			acme.do("POST", "/notebooks", map[string]string{"title": strings.Repeat("x", 1<<20)}, 413, nil)

			// Deleting: the note, then the notebook with its notes.
			acme.do("DELETE", "/notes/"+acmeNote.ID.String(), nil, 204, nil)
			acme.do("GET", "/notes/"+acmeNote.ID.String(), nil, 404, nil)
			globex.do("DELETE", "/notebooks/"+globexNB.ID.String(), nil, 204, nil)
			globex.do("GET", "/notes/"+globexNote.ID.String(), nil, 404, nil)
			globex.do("GET", "/notebooks", nil, 200, &nbs)
			if len(nbs) != 0 {
				t.Errorf("globex's notebooks after delete = %+v; want none", nbs)
			}

			// Accounts are shared: one tenant-less list for everyone.
			var acc account
			acme.do("POST", "/accounts", map[string]string{"name": "Ann", "plan": "pro"}, 201, &acc)
			var accounts []account
			caller{t, acme.url, ""}.do("GET", "/accounts", nil, 200, &accounts)
			if len(accounts) != 1 || accounts[0] != acc || acc.Plan != "pro" {
				t.Errorf("accounts = %+v; want only %+v with plan pro", accounts, acc)
			}
		})
	}
}

// TestTenantCreate provisions a tenant through the command line and serves
// it.
func TestTenantCreate(t *testing.T) {
	cfg := tenanttest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": tenanttest.URL(cfg)}
	getenv := func(k string) string { return env[k] }
	if err := run(t.Context(), []string{"migrate", "--all"}, getenv, io.Discard); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := run(t.Context(), []string{"tenant", "create", "acme"}, getenv, &out); err != nil {
		t.Fatal(err)
	}
	if want := "tenant acme: schema tenant_acme, status active\n"; out.String() != want {
		t.Errorf("output %q; want %q", out.String(), want)
	}
	if err := run(t.Context(), []string{"migrate", "--all"}, getenv, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := run(t.Context(), []string{"tenant", "create"}, getenv, io.Discard); err == nil {
		t.Error("tenant create without an id succeeded")
	}

	reg, err := tenant.New(t.Context(), env["DATABASE_URL"], ent.ClientForTenant, tenant.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close(context.Background())
	c, release, err := reg.Acquire(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if _, err := c.Notebook.Create().SetTitle("First").Save(t.Context()); err != nil {
		t.Fatal(err)
	}
}

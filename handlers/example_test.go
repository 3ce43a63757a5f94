package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/ent/migrate/migrations"

	"github.com/pgtenant/pgtenant/handlers"
	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/migrate"
)

// Serve the API of a registry with the admin routes enabled, and take a
// tenant through its life: provisioned, serving its users, dropped.
func ExampleAPI_Routes() {
	ctx := context.Background()
	reg, err := tenant.New(ctx, os.Getenv("DATABASE_URL"), ent.ClientForTenant, tenant.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer reg.Close(ctx)

	const adminToken = "s3cret" // in production, e.g. os.Getenv("ADMIN_TOKEN")
	api := handlers.New(nil, reg, handlers.Options{
		AdminToken: adminToken,
		Migrator:   migrate.New(reg.DB(), migrate.Options{Public: migrations.Public(), Tenant: migrations.Tenant()}),
	})
	srv := httptest.NewServer(api.Routes()) // or http.ListenAndServe(":3000", api.Routes())
	defer srv.Close()

	// send makes a request as the admin, for tenant acme, and prints its status.
	send := func(method, path, body string) *http.Response {
		req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			log.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("X-Tenant-ID", "acme")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(method, path, resp.Status)
		return resp
	}

	send("POST", "/admin/tenants", `{"id":"acme"}`).Body.Close()
	send("POST", "/users", `{"email":"ada@acme.example","name":"Ada"}`).Body.Close()
	resp := send("GET", "/users", "")
	var users []struct{ Email, Name string }
	err = json.NewDecoder(resp.Body).Decode(&users)
	resp.Body.Close()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(users)
	send("DELETE", "/admin/tenants/acme", "").Body.Close()
	// Output:
	// POST /admin/tenants 201 Created
	// POST /users 201 Created
	// GET /users 200 OK
	// [{ada@acme.example Ada}]
	// DELETE /admin/tenants/acme 204 No Content
}

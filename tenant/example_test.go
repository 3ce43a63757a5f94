package tenant_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/ent/user"
	"github.com/pgtenant/pgtenant/tenant"
)

// A registry for a service with many tenants: one shared pool with
// schema-qualified SQL, at most 60 backend connections, and pool events in
// the service's log.
func ExampleNew() {
	ctx := context.Background()
	reg, err := tenant.New(ctx, os.Getenv("DATABASE_URL"), ent.ClientForTenant, tenant.Options{
		Mode:       tenant.Qualified,
		MaxClients: 500,
		MaxConns:   60,
		ClientTTL:  15 * time.Minute,
		Logger:     slog.New(slog.NewJSONHandler(os.Stderr, nil)),
		Hooks: tenant.Hooks{
			OnClientEvicted: func(id string, reason tenant.EvictReason) {
				fmt.Println("evicted", id, reason)
			},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	// Close waits up to its context's deadline for requests still holding
	// a client.
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := reg.Close(ctx); err != nil {
			log.Print(err)
		}
	}()

	plans, err := reg.Shared().Plan.Query().All(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(plans), "plans")
	// Output: 0 plans
}

// Acquire a tenant's client for the duration of one unit of work, and release
// it when done; eviction never closes a client that is still leased.
func ExampleRegistry_Acquire() {
	ctx := context.Background()
	reg, err := tenant.New(ctx, os.Getenv("DATABASE_URL"), ent.ClientForTenant, tenant.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer reg.Close(ctx)

	client, release, err := reg.Acquire(ctx, "acme")
	switch {
	case errors.Is(err, tenant.ErrNotFound):
		log.Fatal("no active tenant acme")
	case err != nil:
		log.Fatal(err)
	}
	defer release()

	// Sign Ada up, or update her name if her address is already taken.
	id, err := client.User.Create().SetEmail("ada@acme.example").SetName("Ada").
		OnConflictColumns(user.FieldEmail).UpdateNewValues().
		ID(ctx)
	if err != nil {
		log.Fatal(err)
	}
	u, err := client.User.Get(ctx, id)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u.Name, u.Email)
	// Output: Ada ada@acme.example
}

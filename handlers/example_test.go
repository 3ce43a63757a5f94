package handlers_test

import (
	"context"
	"log"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/pgtenant/pgtenant/handlers"
	"github.com/pgtenant/pgtenant/tenant"
	"github.com/pgtenant/pgtenant/tenant/migrate"
)

// Serve the API of a registry on :3000, with the admin routes enabled.
func ExampleAPI_Routes() {
	ctx := context.Background()
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	reg, err := tenant.New(ctx, os.Getenv("DATABASE_URL"), tenant.Options{Logger: logger})
	if err != nil {
		log.Fatal(err)
	}
	defer reg.Close(ctx)

	api := handlers.New(logger, reg, handlers.Options{
		AdminToken: os.Getenv("ADMIN_TOKEN"),
		Migrator:   migrate.New(reg.DB(), migrate.Options{Logger: logger}),
	})
	srv := &http.Server{Addr: ":3000", Handler: api.Routes(), ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

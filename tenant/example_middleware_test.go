package tenant_test

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/tenant"
)

// Each request names its tenant in the X-Tenant-ID header; the handler finds
// the tenant's client in the request context. An unknown tenant is answered
// 404 before the handler runs.
func ExampleMiddleware() {
	ctx := context.Background()
	reg, err := tenant.New(ctx, os.Getenv("DATABASE_URL"), ent.ClientForTenant, tenant.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer reg.Close(ctx)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /users", func(w http.ResponseWriter, r *http.Request) {
		id, _ := tenant.FromContext(r.Context())
		client, _ := tenant.ClientFromContext[*ent.Client](r.Context())
		n, err := client.User.Query().Count(r.Context())
		if err != nil {
			http.Error(w, "Internal server error", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "tenant %s has %d users\n", id, n)
	})
	// With chi: r.Use(tenant.Middleware(reg, tenant.MiddlewareOptions{})).
	h := tenant.Middleware(reg, tenant.MiddlewareOptions{})(mux)
	srv := httptest.NewServer(h) // or http.ListenAndServe(":3000", h)
	defer srv.Close()

	for _, id := range []string{"globex", "initech"} {
		req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/users", nil)
		if err != nil {
			log.Fatal(err)
		}
		req.Header.Set("X-Tenant-ID", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			log.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			fmt.Println(id, resp.Status)
			continue
		}
		fmt.Print(string(body))
	}
	// Output:
	// tenant globex has 0 users
	// initech 404 Not Found
}

// The tenant comes from the host name, requests must carry a token for it, and
// errors are answered in the application's own format.
func ExampleMiddleware_options() {
	var reg *tenant.Registry[*ent.Client] // from tenant.New
	var app http.Handler                  // the application's routes
	authorize := func(r *http.Request, id string) error {
		if r.Header.Get("Authorization") != "Bearer token-of-"+id {
			return fmt.Errorf("no token for tenant %q", id)
		}
		return nil
	}
	h := tenant.Middleware(reg, tenant.MiddlewareOptions{
		Extract: func(r *http.Request) string {
			// acme.example.com → acme
			for i := range len(r.Host) {
				if r.Host[i] == '.' {
					return r.Host[:i]
				}
			}
			return ""
		},
		Authorize: authorize,
		Verified:  true, // ping the tenant's schema, with retries, before the handler
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			log.Printf("%s %s: %v", r.Method, r.URL.Path, err)
			tenant.WriteError(w, r, err) // the default responses
		},
	})(app)
	_ = h
}

func ExampleRetryPolicy_Do() {
	p := tenant.RetryPolicy{InitialDelay: time.Millisecond, NoJitter: true}
	tries := 0
	err := p.Do(context.Background(), func(ctx context.Context) error {
		tries++
		if tries < 3 {
			return driver.ErrBadConn // transient: retried
		}
		return nil
	}, func(attempt int, err error, delay time.Duration) {
		fmt.Printf("attempt %d failed (%v); retrying in %v\n", attempt, err, delay)
	})
	fmt.Println("tries:", tries, "error:", err)
	// Output:
	// attempt 1 failed (driver: bad connection); retrying in 1ms
	// attempt 2 failed (driver: bad connection); retrying in 2ms
	// tries: 3 error: <nil>
}

func ExampleIsTransient() {
	fmt.Println(tenant.IsTransient(driver.ErrBadConn))
	fmt.Println(tenant.IsTransient(fmt.Errorf("ping: %w", context.DeadlineExceeded)))
	// Output:
	// true
	// false
}

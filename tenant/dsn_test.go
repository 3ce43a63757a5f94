package tenant_test

import (
	"strings"
	"testing"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/tenant"
)

// TestNewHidesThePasswordOfABadDSN: lib/pq's parse errors quote the URL;
// New's error shows it without the password.
func TestNewHidesThePasswordOfABadDSN(t *testing.T) {
	for _, dsn := range []string{"postgres://app:hunter2@db:54x2/app", "host=db password=hunter2 port=x"} {
		_, err := tenant.New(t.Context(), dsn, ent.ClientForTenant, tenant.Options{})
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("New(%q) = %v; want an error without the password", dsn, err)
		}
	}
}

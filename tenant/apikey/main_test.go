package apikey_test

import (
	"os"
	"testing"

	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

func TestMain(m *testing.M) {
	os.Exit(tenanttest.Main(m, tenanttest.MainOptions{}))
}

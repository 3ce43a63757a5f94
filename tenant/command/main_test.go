package command

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/lib/pq"

	"github.com/pgtenant/pgtenant/tenant/tenanttest"
)

// migs are the tracks of a tiny service: a public table of the tenants'
// colors and a tenant table of notes.
var migs = tenanttest.Migrations{
	Public: fstest.MapFS{"20250101000000_colors.sql": {Data: []byte("CREATE TABLE tenant_colors (id text PRIMARY KEY, color text NOT NULL);\n")}},
	Tenant: fstest.MapFS{"20250101000000_notes.sql": {Data: []byte("CREATE TABLE notes (id bigserial PRIMARY KEY, body text NOT NULL);\n")}},
}

// TestMain gives the examples a database in DATABASE_URL with only the
// tenant directory: each example brings its own tracks.
func TestMain(m *testing.M) {
	os.Exit(tenanttest.Main(m, tenanttest.MainOptions{}))
}

// adminCLI runs Run with migs and DATABASE_URL set to url.
type adminCLI struct {
	t   *testing.T
	url string
	// hooks, if not nil, adds the service's hooks to the Config.
	hooks func(*Config)
}

func newAdminCLI(t *testing.T, cfg pq.Config) adminCLI {
	return adminCLI{t: t, url: tenanttest.URL(cfg)}
}

// config returns the Config of c with the given process.
func (c adminCLI) config(stdin io.Reader, stdout, stderr io.Writer) Config {
	cfg := Config{Name: "notes", Public: migs.Public, Tenant: migs.Tenant,
		Stdin: stdin, Stdout: stdout, Stderr: stderr,
		Getenv: func(k string) string {
			if k == "DATABASE_URL" {
				return c.url
			}
			return ""
		}}
	if c.hooks != nil {
		c.hooks(&cfg)
	}
	return cfg
}

func (c adminCLI) run(args ...string) (stdout, stderr string, err error) {
	c.t.Helper()
	return c.runStdin("", args...)
}

// runStdin is run with stdin as standard input.
func (c adminCLI) runStdin(stdin string, args ...string) (stdout, stderr string, err error) {
	c.t.Helper()
	var out, errOut bytes.Buffer
	err = Run(c.t.Context(), args, c.config(strings.NewReader(stdin), &out, &errOut))
	return out.String(), errOut.String(), err
}

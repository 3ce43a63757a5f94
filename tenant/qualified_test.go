package tenant_test

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/lib/pq"

	"github.com/pgtenant/pgtenant/ent/post"
	"github.com/pgtenant/pgtenant/ent/user"
	"github.com/pgtenant/pgtenant/tenant"
)

// queryCapture is a slog.Handler keeping the statements logged by
// Options.LogQueries.
type queryCapture struct {
	mu      sync.Mutex
	queries []string
}

func (c *queryCapture) Enabled(context.Context, slog.Level) bool { return true }
func (c *queryCapture) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *queryCapture) WithGroup(string) slog.Handler            { return c }

func (c *queryCapture) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "query" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "query" && strings.Contains(a.Value.String(), "query=") {
			c.mu.Lock()
			c.queries = append(c.queries, a.Value.String())
			c.mu.Unlock()
		}
		return true
	})
	return nil
}

// take returns and forgets the statements captured so far.
func (c *queryCapture) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queries
	c.queries = nil
	return q
}

// unqualified matches a table of the Ent graph named without its schema
// where a table reference stands.
var unqualified = regexp.MustCompile(`(?i)\b(FROM|JOIN|INTO|UPDATE|TABLE)\s+"(users|posts|plans|tenant_plans)"`)

// TestQualifiedStatements proves that every statement Ent sends in Qualified
// mode names its schema: the pool's search_path is empty, so an unqualified
// table would fail, and the captured SQL is checked as well.
func TestQualifiedStatements(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addTenant(t, "acme")
	capture := &queryCapture{}
	reg := f.newRegistry(t, tenant.Options{Mode: tenant.Qualified, LogQueries: true, Logger: slog.New(capture)})
	ctx := t.Context()
	client, release, err := reg.Acquire(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	capture.take() // the directory lookup

	ops := []struct {
		name string
		run  func() error
		want []string // qualified tables the statements must name
	}{
		{"create", func() error {
			u, err := client.User.Create().SetEmail("a@acme.test").SetName("A").Save(ctx)
			if err != nil {
				return err
			}
			return client.Post.Create().SetTitle("hello").SetAuthor(u).Exec(ctx)
		}, []string{`"tenant_acme"."users"`, `"tenant_acme"."posts"`}},
		{"create bulk", func() error {
			return client.Post.CreateBulk(client.Post.Create().SetTitle("x"), client.Post.Create().SetTitle("y")).Exec(ctx)
		}, []string{`"tenant_acme"."posts"`}},
		{"query", func() error {
			_, err := client.User.Query().Where(user.Email("a@acme.test")).Only(ctx)
			return err
		}, []string{`"tenant_acme"."users"`}},
		{"edge predicate", func() error {
			_, err := client.Post.Query().Where(post.HasAuthorWith(user.Active(true))).All(ctx)
			return err
		}, []string{`"tenant_acme"."posts"`, `"tenant_acme"."users"`}},
		{"eager loading", func() error {
			if _, err := client.User.Query().WithPosts().All(ctx); err != nil {
				return err
			}
			_, err := client.Post.Query().WithAuthor().All(ctx)
			return err
		}, []string{`"tenant_acme"."posts"`, `"tenant_acme"."users"`}},
		{"edge traversal", func() error {
			u, err := client.User.Query().First(ctx)
			if err != nil {
				return err
			}
			if _, err := u.QueryPosts().All(ctx); err != nil {
				return err
			}
			_, err = client.User.Query().QueryPosts().QueryAuthor().All(ctx)
			return err
		}, []string{`"tenant_acme"."posts"`, `"tenant_acme"."users"`}},
		{"update", func() error {
			u, err := client.User.Query().First(ctx)
			if err != nil {
				return err
			}
			if err := client.User.UpdateOne(u).SetName("B").Exec(ctx); err != nil {
				return err
			}
			_, err = client.Post.Update().Where(post.TitleEQ("x")).SetTitle("z").Save(ctx)
			return err
		}, []string{`"tenant_acme"."users"`, `"tenant_acme"."posts"`}},
		{"delete", func() error {
			_, err := client.Post.Delete().Where(post.TitleEQ("z")).Exec(ctx)
			return err
		}, []string{`"tenant_acme"."posts"`}},
		{"transaction", func() error {
			tx, err := client.Tx(ctx)
			if err != nil {
				return err
			}
			u, err := tx.User.Create().SetEmail("t@acme.test").SetName("T").Save(ctx)
			if err != nil {
				tx.Rollback()
				return err
			}
			if _, err := tx.Post.Create().SetTitle("in tx").SetAuthor(u).Save(ctx); err != nil {
				tx.Rollback()
				return err
			}
			if _, err := tx.User.Query().WithPosts().All(ctx); err != nil {
				tx.Rollback()
				return err
			}
			return tx.Commit()
		}, []string{`"tenant_acme"."users"`, `"tenant_acme"."posts"`}},
		{"upsert", func() error {
			if err := client.User.Create().SetEmail("a@acme.test").SetName("C").
				OnConflictColumns(user.FieldEmail).UpdateName().Exec(ctx); err != nil {
				return err
			}
			return client.User.CreateBulk(client.User.Create().SetEmail("u@acme.test").SetName("U")).
				OnConflictColumns(user.FieldEmail).UpdateNewValues().Exec(ctx)
		}, []string{`"tenant_acme"."users"`}},
		{"public tables", func() error {
			if err := reg.Shared().Plan.Create().SetName("pro").Exec(ctx); err != nil {
				return err
			}
			_, err := client.Plan.Query().WithTenants().All(ctx)
			return err
		}, []string{`"public"."plans"`, `"public"."tenant_plans"`}},
	}
	for _, op := range ops {
		err := op.run()
		stmts := capture.take()
		if err != nil {
			t.Errorf("%s: %v", op.name, err)
			continue
		}
		if len(stmts) == 0 {
			t.Errorf("%s: no statement captured", op.name)
		}
		all := strings.Join(stmts, "\n")
		for _, s := range stmts {
			if m := unqualified.FindString(s); m != "" {
				t.Errorf("%s: unqualified table %s in %s", op.name, m, s)
			}
		}
		for _, w := range op.want {
			if !strings.Contains(all, w) {
				t.Errorf("%s: no statement names %s:\n%s", op.name, w, all)
			}
		}
	}
	if n, err := client.User.Query().Count(ctx); err != nil || n != 3 {
		t.Errorf("users after the operations = %d, %v; want 3, nil", n, err)
	}

	// Unqualified SQL reaches nothing: not through the pool, not through a
	// tenant's client, not tenant tables through the shared client.
	var pqErr *pq.Error
	if _, err := reg.DB().ExecContext(ctx, "SELECT count(*) FROM users"); !errors.As(err, &pqErr) || pqErr.Code != "42P01" {
		t.Errorf("unqualified raw query on the qualified pool: %v; want undefined_table", err)
	}
	if _, err := client.ExecContext(ctx, "SELECT count(*) FROM plans"); !errors.As(err, &pqErr) || pqErr.Code != "42P01" {
		t.Errorf("unqualified raw query through a tenant client: %v; want undefined_table", err)
	}
	if _, err := reg.Shared().User.Query().Count(ctx); err == nil {
		t.Errorf("the shared client reached a tenant table")
	}
	if _, err := reg.DB().ExecContext(ctx, "CREATE TABLE stray (i int)"); err == nil {
		t.Errorf("unqualified DDL on the qualified pool succeeded")
	}
}

// Package tenant provides schema-per-tenant multi-tenancy for PostgreSQL and Ent.
//
// Every tenant owns one PostgreSQL schema, named from its id by a [Namer]
// (tenant_<id> by default). A [Registry] hands out one client per tenant
// whose SQL can reach that schema and public's shared tables and nothing
// else, keeps the most recently used clients open, and never closes a client
// that is still leased. [Middleware] resolves the tenant of an HTTP request
// and puts the tenant id and client in its context.
//
// # Your Ent schema
//
// The registry works with any Ent project: it is generic over the client
// type C, your generated *ent.Client, and builds each tenant's client with a
// [NewClientFunc] you pass to [New]. The code-generation extension in
// package entpgtenant/codegen generates that function (ent.ClientForTenant)
// and the lists of tenant and shared tables: mark the entities whose tables
// live in public with entpgtenant.Shared(); every other entity lives in
// each tenant's schema. Handlers read the client with [ClientFromContext]:
//
//	reg, err := tenant.New(ctx, dsn, ent.ClientForTenant, tenant.Options{})
//	...
//	r.Use(tenant.Middleware(reg, tenant.MiddlewareOptions{}))
//	r.Get("/notes", func(w http.ResponseWriter, r *http.Request) {
//		client, _ := tenant.ClientFromContext[*ent.Client](r.Context())
//		notes, err := client.Note.Query().All(r.Context())
//		...
//	})
//
// The tenant directory (public.tenants) and the tenants' API keys belong to
// the library: package tenant/migrate creates them, with your own
// migrations, and provisions tenants.
//
// Tenant ids are validated by [ValidateID] before they reach a DSN, a cache key,
// a log line or SQL; schema names are quoted with pq.QuoteIdentifier.
//
// # Concurrency
//
// A Registry is safe for concurrent use. [Registry.Acquire] returns a client
// and a release function; the client stays usable until release is called,
// even if the registry evicts it meanwhile (it is closed after the last
// release). Concurrent first uses of one tenant share one directory lookup
// and open one client. No registry lock is held while connecting, querying,
// closing pools or calling hooks. The registry never holds more backend
// connections than [Options.MaxConns], the directory listener's included:
// when the budget is used up, idle connections of all pools are closed before
// a request waits, and a request still without a connection at its deadline
// fails with an error wrapping [ErrUnavailable].
//
// A tenant is served only while public.tenants lists it as active. The
// registry listens on [DirectoryChannel]; a trigger on public.tenants,
// created by package tenant/migrate with the directory, sends
// pg_notify(DirectoryChannel, id) on commit for every row inserted or
// deleted and every change of a tenant's status or schema name, whoever
// makes it, and every registry forgets that tenant: its client and the
// directory answer it remembers for it ([Options.KnownTenants]).
//
// # Authentication
//
// Without [MiddlewareOptions.Authenticator], Middleware trusts the
// X-Tenant-ID header, which is right only behind a gateway that
// authenticates callers and sets the header itself. With an
// [Authenticator] the tenant comes from a verified credential, checked
// before anything touches the tenant: [HeaderAuth] is the header, the
// packages tenant/apikey (per-tenant API keys) and tenant/jwtauth (JWTs of
// an identity provider) are credentials, and [AuthenticatorFunc] adapts
// your own. [PrincipalFromContext] tells handlers who made the request.
//
// Errors map to HTTP statuses in one place, [ErrorStatus], which the
// middleware's responses use and a service's handlers can share.
//
// # Isolation modes
//
// [SearchPath] (the default) gives every tenant its own *sql.DB whose
// connections have search_path set to exactly the tenant's schema. Unqualified
// raw SQL through the tenant's pool reaches only its schema. Each resident
// tenant keeps the connections it got (up to Options.MaxIdleConns) until the
// connection budget needs room. A connection that a pool closes while healthy
// (because the budget needed room, or its tenant was evicted) is not
// disconnected: it becomes a spare, which the next pool that needs a
// connection adopts after DISCARD ALL (no temporary table, setting, prepared
// statement, advisory lock or role of its previous session survives) and SET
// search_path. Adopting costs two round trips, where dialing costs a new
// PostgreSQL backend. Connections are dialed with an empty search_path, so a
// RESET or DISCARD ALL run through a tenant's client leaves the connection
// reaching no schema at all, never a schema it served before.
//
// [Qualified] shares one *sql.DB among all tenants and builds each tenant's
// client with Ent's schema config (the NewClientFunc is given the schema),
// so every statement Ent generates names its schema ("tenant_acme"."notes",
// "public"."accounts"). Connections are reused
// across tenants, so thousands of tenants cost no more connections than one.
// The pool's search_path is empty: unqualified raw SQL fails instead of
// reaching another tenant's tables, so hand-written SQL must qualify its
// tables itself. It also suits PgBouncer in transaction mode, which by default
// refuses a search_path sent at connect time, as SearchPath mode sends it.
package tenant

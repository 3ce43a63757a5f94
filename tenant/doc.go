// Package tenant provides schema-per-tenant multi-tenancy for PostgreSQL and Ent.
//
// Every tenant owns one PostgreSQL schema, named from its id by a [Namer]
// (tenant_<id> by default). A [Registry] hands out one *ent.Client per tenant
// whose SQL can reach that schema and public's shared tables and nothing else,
// keeps the most recently used clients open, and never closes a client that
// is still leased. [Middleware] resolves the tenant of an HTTP request and puts
// the tenant id and client in its context.
//
// Tenant ids are validated by [ValidateID] before they reach a DSN, a cache key,
// a log line or SQL; schema names are quoted with pq.QuoteIdentifier.
package tenant

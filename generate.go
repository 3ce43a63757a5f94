// Package pgtenant is a schema-per-tenant multi-tenancy toolkit for PostgreSQL and Ent.
//
// Each tenant owns one PostgreSQL schema (tenant_<id>); shared data (plans and the
// tenant directory) lives in public. The module is organised as:
//
//	ent/schema   hand-written Ent schemas (users, posts, plans, tenants)
//	ent          the generated Ent client (committed; regenerate with go generate ./...)
//	entpgtenant  the Shared annotation and, in codegen, the entc extension that
//	             generates the tenant and shared table lists into ent, and, in
//	             migrategen, the generator of the two tracks' migrations
//	tenant       the registry of per-tenant Ent clients, middleware, retry, migrations
//	handlers     the reference REST API (chi + validator)
//	cmd/api      the binary: serve, migrate, status, tenant create|drop|list
//	examples/notes
//	             a small service with its own Ent schema, built on the toolkit
//
// See README.md for the two commands that run the API and the tests.
package pgtenant

//go:generate go run ./ent/entc.go

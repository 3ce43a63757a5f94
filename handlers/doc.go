// Package handlers is the JSON HTTP API over a tenant.Registry: users and
// posts per tenant, plans shared by all, health, readiness, metrics and
// administration. It is wire-compatible with the original Express app: same
// paths, the X-Tenant-ID header, the same camelCase JSON, the same success
// codes; client mistakes the original answered with 500 are 4xx here.
//
// [API.Routes] lists every route:
//
//	GET    /health                 {"status":"ok","pools":N}; no database access
//	GET    /ready                  200 when the shared pool answers a ping, else 503
//	GET    /metrics                Prometheus text format
//	GET    /plans, /plans/{id}     plans (public schema); no tenant needed
//	GET    /admin/pools            admin token: {"count":N, ...registry statistics}
//	POST   /admin/plans            admin token: create a plan
//	PUT    /admin/plans/{id}       admin token: partial update
//	DELETE /admin/plans/{id}       admin token: 204; 409 while a tenant uses it
//	GET    /admin/tenants          admin token: the tenant directory
//	POST   /admin/tenants          admin token: {"id","plan"?} provision, 201
//	DELETE /admin/tenants/{id}     admin token: drop schema and row, evict, 204
//	GET    /admin/tenants/{id}/keys           admin token: the tenant's API keys (never the keys themselves)
//	POST   /admin/tenants/{id}/keys           admin token: {"name"?,"expiresIn"?} → 201 {"key",...}, shown once
//	DELETE /admin/tenants/{id}/keys/{prefix}  admin token: revoke, in every process at once; 204
//	GET    /users                  the tenant's credential (Options.Authenticator) or X-Tenant-ID: one page of users
//	POST   /users                  {"email","name"} → 201 + Location
//	GET    /users/{id}
//	PUT    /users/{id}             partial {"email"?,"name"?,"active"?}
//	DELETE /users/{id}             204; 409 "User has posts" while it has posts
//	GET    /users/{id}/posts       one page of the user's posts; 404 if no user
//	GET    /users-async            as GET /users, acquiring with ping and retry
//	GET    /posts, POST /posts     {"title","content"?,"authorId"}
//	GET/PUT/DELETE /posts/{id}
//
// Lists take ?limit= (1 to 1000, default 100) and ?offset= (≥ 0, default 0)
// and are ordered by creation time, then id, so pages are stable. Any other
// value is a 400.
//
// PUT is a partial update: an absent or null field is left unchanged, and
// an empty object {} changes nothing and answers 200 with the current
// entity (404 if there is none). An empty body is a 400, like any body that
// is not one JSON object. E-mail addresses are stored lower-case, so two
// spellings of one address are a duplicate (409).
//
// # Errors
//
// Every error is JSON {"error":"message"}, plus "fields" (JSON field name →
// message) for validation failures. Clients should key off the status and
// the field names, not the message text.
//
//	condition                                                 status
//	missing, malformed, unknown, expired or revoked credential 401 Unauthorized (WWW-Authenticate: Bearer)
//	X-Tenant-ID not the credential's; credential of a tenant
//	that is not active                                        403 Invalid tenant
//	missing X-Tenant-ID (header mode)                         400 Tenant ID is required
//	malformed tenant id                                       400
//	unknown or not active tenant                              404 Tenant not found
//	malformed JSON, unknown field, wrong type, trailing data  400
//	malformed UUID in the path, bad limit/offset              400
//	missing or wrong admin token                              401
//	admin route without a configured admin token              404
//	entity not found                                          404 User not found, Post not found, ...
//	body over Options.MaxBodyBytes                            413
//	validation failure; post author not in the tenant         422 with fields
//	duplicate e-mail in a tenant (any letter case)            409
//	deleting a user with posts, a plan in use                 409
//	database unreachable or failing transiently, timed out    503
//	client went away before the answer (logged, not read)     499
//	anything else                                             500 Internal server error
//
// A 5xx body never carries details; the cause is logged once with the
// request id. Every request is logged in one line (request_id, tenant,
// principal, method, route, path, status, bytes, duration); the principal is
// an API key's prefix or a JWT's subject, never a secret.
package handlers

// Package handlers is the JSON HTTP API over a tenant.Registry: users and
// posts per tenant, plans shared by all, health, readiness, metrics and
// administration. It is wire-compatible with the original Express app: same
// paths, the X-Tenant-ID header, the same camelCase JSON, the same success
// codes; client mistakes the original answered with 500 are 4xx here.
//
// [API.Routes] lists every route:
//
//	GET    /health                 {"status":"ok","pools":N}; no database access
//	GET    /ready                  200 when the shared pool answers a ping, with the tenants
//	                               behind this release's migrations (tenantsBehind), else 503
//	GET    /metrics                Prometheus text format
//	GET    /plans, /plans/{id}     plans (public schema); no tenant needed
//	GET    /admin/pools            admin token: {"count":N, ...registry statistics}
//	POST   /admin/plans            admin token: create a plan
//	PUT    /admin/plans/{id}       admin token: partial update
//	DELETE /admin/plans/{id}       admin token: 204; 409 while a tenant uses it
//	GET    /admin/tenants          admin token: the tenant directory
//	POST   /admin/tenants          admin token: {"id","plan"?} provision, 201
//	POST   /admin/tenants/batch    admin token: {"ids":[…],"plan"?} provision up to 1000; 200, or 207 with failures
//	DELETE /admin/tenants/{id}     admin token: drop schema and row, evict, 204
//	POST   /admin/tenants/{id}/suspend    admin token: {"reason"?} suspend (403 for its requests), 200
//	POST   /admin/tenants/{id}/resume     admin token: serve a suspended tenant again, 200
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
// POST /admin/tenants/batch provisions each distinct id as POST
// /admin/tenants would, [Options.BatchConcurrency] at once, and answers one
// result per distinct id, in request order, and a summary:
//
//	{"results":[{"id":"acme","status":"created"},
//	            {"id":"Bad","status":"failed","code":422,"error":"Validation failed","fields":{"id":"…"}},
//	            {"id":"zeta","status":"notStarted"}],
//	 "summary":{"total":3,"created":1,"failed":1,"notStarted":1}}
//
// The status is 200 when every tenant was created, else 207 (Multi-Status,
// with this JSON body): a failing id does not stop the others, and a failed
// result carries the status and error body POST /admin/tenants would have
// answered for that id (an invalid id is refused before any SQL). Once the
// request's deadline ([Options.RequestTimeout]) passes, or its client goes
// away, no more tenants are started: those are "notStarted", and the ones
// under way fail with 503. Sending the same request again creates what is
// missing and repairs what failed. The request as a whole is refused, and
// nothing is created, for more than [MaxBatchIDs] ids (413), no ids (422),
// or an unknown plan (422, as POST /admin/tenants).
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
// A body is decoded strictly: member names must be the documented ones,
// letter case included ("Email" is an unknown field, not "email"), each at
// most once, and nothing but white space may follow the object. The 400
// names the problem: Unknown field "EMAIL", Duplicate field "email",
// Request body must be a JSON object (null, an array, a string, a number,
// an empty body), Unexpected data after the JSON object, Field "active"
// must be of type boolean, Malformed JSON.
//
// Length limits count characters (Unicode code points), as PostgreSQL's
// varchar(n) does, not bytes, in the request validation and in the Ent
// schema alike: a name of 255 "é" (510 bytes) is accepted, 256 are a 422.
// The limits: user email and name 255, post title 255 and content 5000,
// plan name 100, maxUsers and price 50.
//
// # Errors
//
// Every error is JSON {"error":"message"}, plus "fields" (JSON field name →
// message) for validation failures. Clients should key off the status and
// the field names, not the message text. This table is the one written copy
// of the mapping; in code it is classify (this package's errors) falling
// back to tenant.ErrorStatus (the tenant middleware's and the registry's
// errors, with their messages), which the middleware's own responses use.
//
//	condition                                                 status
//	missing, malformed, unknown, expired or revoked credential 401 Unauthorized (WWW-Authenticate: Bearer)
//	X-Tenant-ID not the credential's; credential of a tenant
//	that is not active                                        403 Invalid tenant
//	missing X-Tenant-ID (header mode)                         400 Tenant ID is required
//	two X-Tenant-ID headers, or a comma-separated list        400 X-Tenant-ID must name exactly one tenant
//	malformed tenant id                                       400
//	unknown or not active tenant                              404 Tenant not found
//	suspended tenant                                          403 Tenant suspended
//	malformed JSON, unknown field, wrong type, trailing data  400
//	duplicate field, body not an object (null included)       400
//	malformed UUID in the path, bad limit/offset              400
//	missing or wrong admin token                              401
//	admin route without a configured admin token              404
//	entity not found                                          404 User not found, Post not found, ...
//	body over Options.MaxBodyBytes                            413
//	more than MaxBatchIDs ids in POST /admin/tenants/batch    413 Too many ids: at most 1000 per request
//	validation failure; post author not in the tenant         422 with fields
//	duplicate e-mail in a tenant (any letter case)            409
//	deleting a user with posts, a plan in use                 409
//	POST /admin/tenants for a tenant being dropped            409 Tenant is being dropped; ...
//	database unreachable or failing transiently, timed out    503
//	tenant schema behind this release (tenant.ErrSchemaBehind) 503 Tenant unavailable: ...
//	client went away before the answer (logged, not read)     499
//	anything else                                             500 Internal server error
//
// A 5xx body never carries details; the cause is logged once with the
// request id. Every request is logged in one line (request_id, tenant,
// principal, method, route, path, status, bytes, duration); the principal is
// an API key's prefix or a JWT's subject, never a secret.
package handlers

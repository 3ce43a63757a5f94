// Package reliability holds the server-level reliability and security tests of
// the API: tenant isolation under churn in both isolation modes, database
// faults on a private PostgreSQL cluster, connection exhaustion, and what raw
// SQL through a tenant's client can and cannot reach. It has no
// non-test code; RELIABILITY.md at the module root lists each promise and the
// test here that proves it.
package reliability

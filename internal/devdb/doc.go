// Package devdb provides a PostgreSQL server for development and tests
// without Docker.
//
// [Ensure] returns the server at [Options.Probe] (by default the one on
// 127.0.0.1:5432) when it answers. Otherwise it starts a private throwaway
// cluster from the machine's PostgreSQL binaries (initdb and pg_ctl found on
// PATH or in /usr/lib/postgresql/<highest version>/bin). It installs nothing
// and creates no user: when there are no binaries it fails, naming
// scripts/dev, which installs PostgreSQL (and the system user postgres) on a
// Debian machine.
//
// # The private cluster
//
// The cluster lives in [Options.Dir] (".devdb" by default, git-ignored), in a
// folder named "cluster" that holds the data directory ("data"), the server
// log ("postgres.log") and the server's unix socket. It uses trust
// authentication for the role postgres, UTF8, fsync off (its data is
// throwaway), listens on 127.0.0.1 only, on a free port chosen when it
// starts. If the cluster is already running (started by an earlier or
// concurrent call), it is reused. With [Options.Private], each call gets a
// cluster of its own in a folder named private-<random>, which
// [Server.Remove] deletes.
//
// # Running as root
//
// PostgreSQL refuses to run as root. When the effective user is root, initdb
// and pg_ctl run as the existing unprivileged system user postgres
// ([ServerUser]; without it [Ensure] fails, naming scripts/dev, which creates
// it), and the cluster folder is owned by that user. Every
// ancestor of the folder must be searchable by it; a checkout under /root
// (mode 0700) or in a mktemp directory is not. In that case the cluster folder
// is created as /var/tmp/pgtenant-devdb-<hash of the absolute Dir>/cluster and
// Dir/cluster is a symbolic link to it.
//
// # Several processes
//
// Ensure, [Server.Start], [Server.Stop] and [Server.Remove] are safe to call
// from several processes sharing one Dir: a lock file (Dir/cluster.lock)
// serializes creating, starting and stopping the cluster, and every [Server]
// using it holds a shared lock on Dir/cluster.users, so Stop shuts the cluster
// down only when the last user stops.
//
// # Citus
//
// [StartCitus] starts a private Citus cluster: a coordinator and two workers,
// each a private cluster as above with Citus preloaded, registered with each
// other in the database postgres; [Citus.CreateDatabase] makes more Citus
// databases on it. It needs the Citus extension in the machine's PostgreSQL;
// [EnsureCitus] installs it from a build folder (CITUS_DIST) when missing.
//
// The package is for Unix systems (it uses flock and process credentials) and
// is not part of the module's public API.
package devdb

package migrate

// LockKey exposes lockKey to the external tests.
var LockKey = lockKey

// SetBeforeLock makes m call f with the tenant's id before the transaction
// of each tenant whose directory row is checked under the schema's lock
// (MigrateAll, CreateTenant), after the run has read the directory.
func SetBeforeLock(m *Migrator, f func(id string)) { m.beforeLock = f }

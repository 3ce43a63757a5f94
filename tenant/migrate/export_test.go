package migrate

// LockKey exposes lockKey to the external tests.
var LockKey = lockKey

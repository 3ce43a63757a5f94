package schema

import (
	"strconv"

	"entgo.io/ent/dialect"
)

// varchar makes PostgreSQL enforce a string field's maximum length: Ent maps
// strings to an unbounded character varying on PostgreSQL and checks lengths
// only in Go, which other writers of the database bypass. varchar(n) counts
// characters, so text fields check their length with MaxRuneLen(n), which
// counts them too; MaxLen counts bytes and would refuse 200 "é" (400 bytes)
// that the column holds.
func varchar(n int) map[string]string {
	return map[string]string{dialect.Postgres: "varchar(" + strconv.Itoa(n) + ")"}
}

package schema

import (
	"strconv"

	"entgo.io/ent/dialect"
)

// varchar makes PostgreSQL enforce a string field's MaxLen: Ent maps strings
// to an unbounded character varying on PostgreSQL and checks lengths only in
// Go, which other writers of the database bypass.
func varchar(n int) map[string]string {
	return map[string]string{dialect.Postgres: "varchar(" + strconv.Itoa(n) + ")"}
}

package main

import (
	"context"
	"errors"
)

func migrateCmd(ctx context.Context, e env, args []string) error {
	return errors.New("migrate: not implemented yet")
}

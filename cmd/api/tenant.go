package main

import (
	"context"
	"errors"
)

func tenantCmd(ctx context.Context, e env, args []string) error {
	return errors.New("tenant: not implemented yet")
}

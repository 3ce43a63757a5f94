package main

import (
	"context"
	"errors"
)

func statusCmd(ctx context.Context, e env, args []string) error {
	return errors.New("status: not implemented yet")
}

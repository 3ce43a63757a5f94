package main

import (
	"context"
	"errors"
)

func serve(ctx context.Context, e env, args []string) error {
	return errors.New("serve: not implemented yet")
}

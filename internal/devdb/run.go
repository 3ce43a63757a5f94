package devdb

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"syscall"
)

// Run runs the command args (a program and its arguments) with this
// process's environment plus env ("NAME=value"), its standard input and
// output, and stderr. It forwards every signal received on sigs to the
// command until the command exits, and returns the command's exit status:
// 128 plus the signal's number when a signal ended it. The error is that of
// starting or waiting for the command, with status 1.
func Run(args []string, env string, stderr io.Writer, sigs <-chan os.Signal) (int, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, stderr
	cmd.Env = append(os.Environ(), env)
	if err := cmd.Start(); err != nil {
		return 1, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case sig := <-sigs:
			cmd.Process.Signal(sig)
		case err := <-done:
			if exit, ok := errors.AsType[*exec.ExitError](err); ok {
				if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					return 128 + int(ws.Signal()), nil
				}
				return exit.ExitCode(), nil
			}
			if err != nil {
				return 1, err
			}
			return 0, nil
		}
	}
}

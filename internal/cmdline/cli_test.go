package cmdline

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		err     error
		code    int
		printed string
	}{
		{nil, 0, ""},
		{errors.New("down"), 1, "prog: down\n"},
		{fmt.Errorf("migrate: %w", Usagef("bad %s", "flag")), 2, "prog: migrate: bad flag\n"},
		{&UsageError{Err: errors.New("shown"), Printed: true}, 2, ""},
	} {
		var b bytes.Buffer
		if code := ExitCode(tc.err, "prog", &b); code != tc.code || b.String() != tc.printed {
			t.Errorf("ExitCode(%v) = %d, printed %q; want %d, %q", tc.err, code, b.String(), tc.code, tc.printed)
		}
	}
}

// Run turns an error that the flag package printed first into a printed
// usage error, so that it is shown once.
func TestRunRecognisesFlagErrors(t *testing.T) {
	err := Run(io.Discard, nil, func(stderr io.Writer) error {
		fs := NewFlagSet(stderr, "x", "usage: x\n")
		return fs.Parse([]string{"--nope"})
	})
	var ue *UsageError
	if !errors.As(err, &ue) || !ue.Printed {
		t.Errorf("Run with a flag error = %#v; want a printed *UsageError", err)
	}
}

// The help of --database-url names the default's origin and hides its
// password; the advice of Explain names the program.
func TestDatabase(t *testing.T) {
	d := &Database{Name: "prog", Getenv: func(string) string { return "" },
		Default: func() (string, string) { return "postgres://u:pw-secret@db/x", "the record" }, Doc: "the record"}
	fs := NewFlagSet(io.Discard, "x", "")
	d.Flag(fs)
	var b bytes.Buffer
	fs.SetOutput(&b)
	PrintFlags(fs)
	if h := b.String(); !strings.Contains(h, "default $DATABASE_URL, else the record (prefer") || strings.Contains(h, "pw-secret") || !strings.Contains(h, "xxxxx") {
		t.Errorf("help of --database-url:\n%s", h)
	}
	if err := d.Explain(errors.New("pq: password pw-secret rejected")); strings.Contains(err.Error(), "pw-secret") {
		t.Errorf("Explain shows the password: %v", err)
	}
	var empty Database
	fs = flag.NewFlagSet("y", flag.ContinueOnError)
	if p := empty.Flag(fs); *p != "" {
		t.Errorf("zero Database: default %q; want none", *p)
	}
	if err := empty.Explain(errors.New("abc")); err.Error() != "abc" {
		t.Errorf("Explain without a URL = %q; want the error unchanged", err)
	}
}

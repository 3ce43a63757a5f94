package devdb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// URLFile is the file, in [Options.Dir], in which [RecordURL] keeps the URL
// of the development database, so that other commands run in the same
// folder (api migrate, api status, api tenant) find the database that
// `api serve` brought up, whose port is chosen when the cluster starts.
const URLFile = "database.url"

// RecordURL writes url to dir/URLFile (dir empty: DefaultDir), replacing
// what was there, so that [RecordedURL] returns it. The write is atomic: a
// concurrent reader sees the old URL or the new one. The URL of a
// development database holds no password (the private cluster trusts local
// connections); the file is readable by its owner only all the same.
func RecordURL(dir, url string) error {
	if dir == "" {
		dir = DefaultDir
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("devdb: record url: %w", err)
	}
	tmp, err := os.CreateTemp(dir, URLFile+".*")
	if err != nil {
		return fmt.Errorf("devdb: record url: %w", err)
	}
	_, err = tmp.WriteString(url + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, URLFile))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("devdb: record url: %w", err)
	}
	return nil
}

// RecordedURL returns the URL last written by [RecordURL] in dir (empty:
// DefaultDir), or "" and no error when none was. The server it names may
// have stopped since: a private cluster runs while a program uses it.
func RecordedURL(dir string) (string, error) {
	if dir == "" {
		dir = DefaultDir
	}
	b, err := os.ReadFile(filepath.Join(dir, URLFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("devdb: recorded url: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

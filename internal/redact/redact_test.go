package redact

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/lib/pq"
)

func TestDSN(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://app:hunter2@db:5432/app?sslmode=disable", "postgres://app:xxxxx@db:5432/app?sslmode=disable"},
		{"postgresql://app@db/app?password=hunter2&sslmode=require", "postgresql://app@db/app?password=xxxxx&sslmode=require"},
		{"postgres://app@db/app", "postgres://app@db/app"},
		{"postgres://db/app", "postgres://db/app"},
		// Malformed URLs, which net/url refuses: the password still goes.
		{"postgres://app:hunter2@db:54x2/app", "postgres://app:xxxxx@db:54x2/app"},
		{"postgres://app:hun%zzter2@db/app", "postgres://app:xxxxx@db/app"},
		{"postgres://app:hu@n:ter2@db:x/app", "postgres://app:xxxxx@db:x/app"},
		{"postgres://app@db:x/app?sslmode=disable&password=hunter2", "postgres://app@db:x/app?sslmode=disable&password=xxxxx"},
		// key=value DSNs.
		{"host=db user=app password=hunter2 dbname=app", "host=db user=app password=xxxxx dbname=app"},
		{"host=db password = 'hun ter2' dbname=app", "host=db password = xxxxx dbname=app"},
		{`host=db PASSWORD='it\'s' dbname=app`, "host=db PASSWORD=xxxxx dbname=app"},
		{"host=db password='hunter2 dbname=app", "host=db password=xxxxx"},
		{"host=db dbname=app", "host=db dbname=app"},
	}
	for _, tt := range tests {
		if got := DSN(tt.in); got != tt.want {
			t.Errorf("DSN(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestErrorHidesThePassword(t *testing.T) {
	for _, dsn := range []string{
		"postgres://app:hunter2@db:54x2/app",
		"postgres://app:hun%zzter2@db/app",
		"postgres://app:hunter2@db/app?sslmode=bogus",
		"host=db password=hunter2 port=abc",
		"host=db password='hunter2 x",
		"postgres://app:hun\"ter2@db:x/app",
	} {
		_, perr := pq.NewConfig(dsn)
		if perr == nil {
			t.Fatalf("pq.NewConfig(%q) succeeded; want an error", dsn)
		}
		err := Error(dsn, perr)
		for _, secret := range []string{"hunter2", "hun%zzter2", `hun\"ter2`, `hun"ter2`} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("Error(%q, %q) = %q; still shows the password", dsn, perr, err)
			}
		}
		if !errors.Is(err, perr) {
			t.Errorf("Error(%q, err) does not wrap err", dsn)
		}
	}
	// A net/url error quotes the URL: the redacted form is quoted in its place.
	dsn := "postgres://u:hunter2@db:54x2/x"
	_, uerr := url.Parse(dsn)
	if got, want := Error(dsn, uerr).Error(), `parse "postgres://u:xxxxx@db:54x2/x": invalid port ":54x2" after host`; got != want {
		t.Errorf("Error(url error) = %q; want %q", got, want)
	}
	// The password "postgres" is masked, the scheme and user of that name are kept.
	dsn = "postgresql://postgres:postgres@db:x/app"
	_, uerr = url.Parse(dsn)
	if got, want := Error(dsn, uerr).Error(), `parse "postgresql://postgres:xxxxx@db:x/app": invalid port ":x" after host`; got != want {
		t.Errorf("Error(url error) = %q; want %q", got, want)
	}
	plain := errors.New("connection refused")
	if Error(dsn, plain) != plain || Error(dsn, nil) != nil {
		t.Error("Error changed an error without the password, or a nil one")
	}
}

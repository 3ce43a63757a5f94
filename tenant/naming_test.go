package tenant

import (
	"errors"
	"strings"
	"testing"
)

func TestNamerSchema(t *testing.T) {
	tests := []struct {
		name  string
		id    string
		namer Namer
		want  string // "" means ErrInvalidID
	}{
		{name: "slug", id: "acme", want: "tenant_acme"},
		{name: "digits", id: "t0000", want: "tenant_t0000"},
		{name: "uuid", id: "3f2504e0-4f89-11d3-9a0c-0305e82c3301", want: "tenant_3f2504e0-4f89-11d3-9a0c-0305e82c3301"},
		{name: "underscore", id: "a_b", want: "tenant_a_b"},
		{name: "max length", id: strings.Repeat("a", 48), want: "tenant_" + strings.Repeat("a", 48)},
		{name: "custom namer", id: "acme", namer: func(id string) string { return "org_" + id }, want: "org_acme"},
		{name: "empty", id: ""},
		{name: "too long", id: strings.Repeat("a", 49)},
		{name: "comma", id: "a,tenant_b"},
		{name: "comma public", id: "a,public"},
		{name: "quote", id: `x"; CREATE TABLE public.pwned(i int); --`},
		{name: "single quote", id: "a'b"},
		{name: "semicolon", id: "a;b"},
		{name: "space option", id: "a -c application_name=pwned"},
		{name: "dash c", id: "-c"},
		{name: "leading dash", id: "-a"},
		{name: "leading underscore", id: "_a"},
		{name: "dot dot", id: ".."},
		{name: "dot", id: "a.b"},
		{name: "ampersand", id: "a&search_path=public"},
		{name: "upper case", id: "Acme"},
		{name: "upper uuid", id: "3F2504E0-4F89-11D3-9A0C-0305E82C3301"},
		{name: "unicode", id: "açme"},
		{name: "fullwidth", id: "ａｃｍｅ"},
		{name: "nul", id: "a\x00b"},
		{name: "newline", id: "a\nb"},
		{name: "slash", id: "a/b"},
		{name: "namer output public", id: "x", namer: func(string) string { return "public" }},
		{name: "namer output pg_", id: "catalog", namer: func(id string) string { return "pg_" + id }},
		{name: "namer output too long", id: strings.Repeat("a", 48), namer: func(id string) string { return "tenant_schema_prefix_" + id }},
		{name: "namer output upper", id: "acme", namer: func(id string) string { return "T_" + id }},
		{name: "namer output comma", id: "acme", namer: func(id string) string { return id + ",public" }},
		{name: "namer output info schema", id: "x", namer: func(string) string { return "information_schema" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.namer.Schema(tt.id)
			if tt.want == "" {
				if !errors.Is(err, ErrInvalidID) {
					t.Fatalf("Schema(%q) = %q, %v; want ErrInvalidID", tt.id, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Schema(%q) = %q, %v; want %q, nil", tt.id, got, err, tt.want)
			}
		})
	}
}

func TestValidateIDErrorQuotesInput(t *testing.T) {
	err := ValidateID("a\nb\x00")
	if err == nil {
		t.Fatal("ValidateID accepted a control character")
	}
	if strings.ContainsAny(err.Error(), "\n\x00") {
		t.Fatalf("ValidateID error %q carries raw control characters", err)
	}
}

func FuzzNamerSchema(f *testing.F) {
	for _, s := range []string{"acme", "a,public", "A", "a -c x=y", `x"y`, "", "tenant", "3f2504e0-4f89-11d3-9a0c-0305e82c3301"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		s, err := Namer(nil).Schema(id)
		if err != nil {
			if !errors.Is(err, ErrInvalidID) {
				t.Fatalf("Schema(%q) error %v does not wrap ErrInvalidID", id, err)
			}
			return
		}
		if !schemaPattern.MatchString(s) || strings.ContainsAny(s, ",\"' ;&=\\\x00") {
			t.Fatalf("Schema(%q) = %q: unsafe schema name accepted", id, s)
		}
		if s != "tenant_"+id {
			t.Fatalf("Schema(%q) = %q; want tenant_%s", id, s, id)
		}
	})
}

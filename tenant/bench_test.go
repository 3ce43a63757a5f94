package tenant_test

import (
	"context"
	"testing"

	"github.com/pgtenant/pgtenant/tenant"
)

func benchRegistry(b *testing.B, mode tenant.Mode) *tenant.Registry {
	b.Helper()
	f := newFixture(b)
	f.addTenant(b, "acme")
	return f.newRegistry(b, tenant.Options{Mode: mode})
}

// BenchmarkAcquireRelease measures the hit path: Acquire and release of a
// resident tenant.
func BenchmarkAcquireRelease(b *testing.B) {
	for _, mode := range modes {
		b.Run(mode.String(), func(b *testing.B) {
			reg := benchRegistry(b, mode)
			ctx := context.Background()
			if _, release, err := reg.Acquire(ctx, "acme"); err != nil {
				b.Fatal(err)
			} else {
				release()
			}
			b.ReportAllocs()
			for b.Loop() {
				_, release, err := reg.Acquire(ctx, "acme")
				if err != nil {
					b.Fatal(err)
				}
				release()
			}
		})
	}
}

// BenchmarkAcquireReleaseParallel is the hit path from all CPUs at once.
func BenchmarkAcquireReleaseParallel(b *testing.B) {
	reg := benchRegistry(b, tenant.SearchPath)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, release, err := reg.Acquire(ctx, "acme")
			if err != nil {
				b.Error(err)
				return
			}
			release()
		}
	})
}

// BenchmarkAcquireCold measures a miss: the directory lookup and the opening
// of the tenant's client (no connection is dialed for the pool itself).
func BenchmarkAcquireCold(b *testing.B) {
	for _, mode := range modes {
		b.Run(mode.String(), func(b *testing.B) {
			reg := benchRegistry(b, mode)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				reg.Evict("acme")
				_, release, err := reg.Acquire(ctx, "acme")
				if err != nil {
					b.Fatal(err)
				}
				release()
			}
		})
	}
}

// BenchmarkAcquireQuery is a cold-free request: Acquire, one indexed query on
// the tenant's table, release.
func BenchmarkAcquireQuery(b *testing.B) {
	for _, mode := range modes {
		b.Run(mode.String(), func(b *testing.B) {
			reg := benchRegistry(b, mode)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				client, release, err := reg.Acquire(ctx, "acme")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := client.User.Query().Count(ctx); err != nil {
					b.Fatal(err)
				}
				release()
			}
		})
	}
}

package tenant_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/tenant"
)

func benchRegistry(b *testing.B, mode tenant.Mode) *tenant.Registry[*ent.Client] {
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

// BenchmarkManyTenants spreads Acquire + one query + release at random over
// three times more tenants than SearchPath mode keeps clients for, from 16
// goroutines: the cost of LRU churn in SearchPath mode (a miss dials new
// connections) against Qualified mode (connections are shared, a miss costs a
// directory lookup).
func BenchmarkManyTenants(b *testing.B) {
	const tenants, maxPools = 60, 20
	f := newFixture(b)
	ids := make([]string, tenants)
	for i := range ids {
		ids[i] = fmt.Sprintf("m%03d", i)
		f.addTenant(b, ids[i])
	}
	cases := []struct {
		name string
		opts tenant.Options
	}{
		{"search_path", tenant.Options{Mode: tenant.SearchPath, MaxClients: maxPools, MaxConns: 40}},
		{"qualified", tenant.Options{Mode: tenant.Qualified, MaxClients: maxPools, MaxConns: 40}},
		// Qualified clients hold no connection: keep them all.
		{"qualified/all-resident", tenant.Options{Mode: tenant.Qualified, MaxConns: 40}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			reg := f.newRegistry(b, c.opts)
			ctx := context.Background()
			var seed atomic.Uint64
			b.SetParallelism(8)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				rng := rand.New(rand.NewPCG(seed.Add(1), 2))
				for pb.Next() {
					client, release, err := reg.Acquire(ctx, ids[rng.IntN(tenants)])
					if err != nil {
						b.Error(err)
						return
					}
					if _, err := client.User.Query().Count(ctx); err != nil {
						b.Error(err)
					}
					release()
				}
			})
			b.StopTimer()
			st := reg.Stats()
			b.ReportMetric(float64(st.Misses)/float64(st.Hits+st.Misses), "miss-ratio")
		})
	}
}

package handlers

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pgtenant/pgtenant/ent"
	"github.com/pgtenant/pgtenant/tenant"
)

// metrics are the Prometheus metrics of one API, on its own registry (never
// the global default, so two APIs in one process do not collide).
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(tr *tenant.Registry[*ent.Client]) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests served, by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by method, route pattern and status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route", "status"}),
	}
	m.reg.MustRegister(m.requests, m.duration, newRegistryCollector(tr),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(method, route string, status int, d time.Duration) {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
	default:
		method = "OTHER" // clients choose methods; labels must stay bounded
	}
	s := strconv.Itoa(status)
	m.requests.WithLabelValues(method, route, s).Inc()
	m.duration.WithLabelValues(method, route, s).Observe(d.Seconds())
}

func (m *metrics) handler(log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// registryCollector reports a tenant.Registry's Stats at scrape time. It
// reads counters only: a scrape never pings the database.
type registryCollector struct {
	reg *tenant.Registry[*ent.Client]

	pools, maxPools, hits, misses, evictions   *prometheus.Desc
	conns, spares, maxConns, connWaits         *prometheus.Desc
	open, inUse, idle, waitCount, waitDuration *prometheus.Desc
}

func newRegistryCollector(reg *tenant.Registry[*ent.Client]) *registryCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("pgtenant_"+name, help, labels, nil)
	}
	return &registryCollector{
		reg:          reg,
		pools:        d("pools", "Tenant clients held by the registry."),
		maxPools:     d("pools_max", "Most tenant clients the registry holds."),
		hits:         d("pool_hits_total", "Acquisitions served by a held client."),
		misses:       d("pool_misses_total", "Acquisitions that opened a client."),
		evictions:    d("pool_evictions_total", "Clients evicted, by reason.", "reason"),
		conns:        d("connections", "Backend connections held, all pools."),
		spares:       d("connections_spare", "Connections between pools, ready for the next pool that needs one (search_path mode)."),
		maxConns:     d("connections_max", "The connection budget."),
		connWaits:    d("connection_budget_waits_total", "Connection requests that waited for the budget."),
		open:         d("pool_connections_open", "Open connections, by pool kind.", "pool"),
		inUse:        d("pool_connections_in_use", "Connections in use, by pool kind.", "pool"),
		idle:         d("pool_connections_idle", "Idle connections, by pool kind.", "pool"),
		waitCount:    d("pool_wait_count_total", "Connection waits of database/sql, by pool kind.", "pool"),
		waitDuration: d("pool_wait_seconds_total", "Time spent waiting for connections, by pool kind.", "pool"),
	}
}

func (c *registryCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.pools, c.maxPools, c.hits, c.misses, c.evictions,
		c.conns, c.spares, c.maxConns, c.connWaits, c.open, c.inUse, c.idle, c.waitCount, c.waitDuration} {
		ch <- d
	}
}

func (c *registryCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.reg.Stats()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge(c.pools, float64(st.Clients))
	gauge(c.maxPools, float64(st.MaxClients))
	counter(c.hits, float64(st.Hits))
	counter(c.misses, float64(st.Misses))
	for _, reason := range []tenant.EvictReason{tenant.EvictLRU, tenant.EvictTTL, tenant.EvictManual, tenant.EvictClose} {
		counter(c.evictions, float64(st.Evictions[reason]), string(reason))
	}
	gauge(c.conns, float64(st.Conns))
	gauge(c.spares, float64(st.Spares))
	gauge(c.maxConns, float64(st.MaxConns))
	counter(c.connWaits, float64(st.ConnWaits))

	// Per-pool series would grow with the tenant count; sum the tenant pools.
	var t tenant.ClientStats
	for _, p := range st.Tenants {
		t.OpenConnections += p.OpenConnections
		t.InUse += p.InUse
		t.Idle += p.Idle
		t.WaitCount += p.WaitCount
		t.WaitDuration += p.WaitDuration
	}
	for _, p := range []struct {
		name string
		s    tenant.ClientStats
	}{{"shared", st.Shared}, {"tenants", t}} {
		gauge(c.open, float64(p.s.OpenConnections), p.name)
		gauge(c.inUse, float64(p.s.InUse), p.name)
		gauge(c.idle, float64(p.s.Idle), p.name)
		counter(c.waitCount, float64(p.s.WaitCount), p.name)
		counter(c.waitDuration, p.s.WaitDuration.Seconds(), p.name)
	}
}

package broker

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are fedgate's Prometheus metrics, on a registry of their own (no
// package globals).
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	signins  *prometheus.CounterVec
	reloads  *prometheus.CounterVec
	certEnd  prometheus.Gauge
}

// NewMetrics registers fedgate's metrics and the Go runtime's.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fedgate_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "fedgate_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12),
		}, []string{"route"}),
		signins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fedgate_signins_total", Help: "Sign-in attempts by upstream and outcome.",
		}, []string{"upstream", "outcome"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fedgate_config_reloads_total", Help: "Config reloads by result.",
		}, []string{"result"}),
		certEnd: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fedgate_tls_certificate_not_after_timestamp_seconds",
			Help: "When the TLS certificate from server.tls.cert_file expires (Unix time); alert well before it.",
		}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.signins, m.reloads, m.certEnd,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Reloaded counts a config reload attempt.
func (m *Metrics) Reloaded(ok bool) {
	m.reloads.WithLabelValues(map[bool]string{true: "success", false: "failure"}[ok]).Inc()
}

// TLSCertificate records the expiry of the certificate file taken into use.
func (m *Metrics) TLSCertificate(notAfter time.Time) {
	m.certEnd.Set(float64(notAfter.Unix()))
}

// routeMetrics are one route's series, resolved once (not by label values
// on every request): the latency histogram, and a counter per status code
// as codes are first seen.
type routeMetrics struct {
	m       *Metrics
	route   string
	latency prometheus.Observer
	codes   [600]atomic.Pointer[prometheus.Counter]
}

func (m *Metrics) route(route string) *routeMetrics {
	return &routeMetrics{m: m, route: route, latency: m.latency.WithLabelValues(route)}
}

func (rm *routeMetrics) observe(code int, d time.Duration) {
	rm.latency.Observe(d.Seconds())
	if code < 0 || code >= len(rm.codes) {
		rm.m.requests.WithLabelValues(rm.route, strconv.Itoa(code)).Inc()
		return
	}
	c := rm.codes[code].Load()
	if c == nil {
		resolved := rm.m.requests.WithLabelValues(rm.route, codeLabels[code])
		c = &resolved
		rm.codes[code].Store(c)
	}
	(*c).Inc()
}

// codeLabels avoids formatting a status code when its counter is resolved.
var codeLabels = func() (t [600]string) {
	for i := range t {
		t[i] = strconv.Itoa(i)
	}
	return t
}()

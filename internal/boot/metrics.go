package boot

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mtnode/mtnode/sdk"
)

// statsSource is what the metrics collector reads.
type statsSource interface {
	Stats() []sdk.ServiceInfo
	DroppedReplies() uint64
	Undeliverable() uint64
}

// collector exposes every service's counters to Prometheus, read at scrape
// time from the node (no second set of counters to keep in step).
type collector struct {
	node                                             statsSource
	handled, sent, errs, queueFull, panics, handlerS *prometheus.Desc
	queueLen, queueHigh, queueLimit, up              *prometheus.Desc
	dropped, undeliverable                           *prometheus.Desc
}

func newCollector(n statsSource) *collector {
	l := []string{"service"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc("mtnode_"+name, help, labels, nil)
	}
	return &collector{
		node:          n,
		handled:       d("service_events_handled_total", "Events handled by the service.", l),
		sent:          d("service_events_sent_total", "Events sent by the service (requests, replies, forwards).", l),
		errs:          d("service_errors_total", "Events whose handling failed (error or panic).", l),
		queueFull:     d("service_queue_full_total", "Events refused because the service's queue was full.", l),
		panics:        d("service_panics_total", "Handler panics recovered.", l),
		handlerS:      d("service_handler_seconds_total", "Time spent in the service's handler.", l),
		queueLen:      d("service_queue_length", "Events queued for the service now.", l),
		queueHigh:     d("service_queue_high_water", "Most events ever queued for the service at once.", l),
		queueLimit:    d("service_queue_limit", "The service's queue limit.", l),
		up:            d("service_running", "1 if the service is running.", l),
		dropped:       d("dropped_replies_total", "Replies refused because the receiver's queue was beyond its reserve (dropped, unless the sender held them to offer again).", nil),
		undeliverable: d("undeliverable_total", "Replies and error events that found no receiver.", nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.node.Stats() {
		counter := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, s.Name)
		}
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, s.Name)
		}
		counter(c.handled, float64(s.Handled))
		counter(c.sent, float64(s.Sent))
		counter(c.errs, float64(s.Errors))
		counter(c.queueFull, float64(s.QueueFull))
		counter(c.panics, float64(s.Panics))
		counter(c.handlerS, s.HandlerTime.Seconds())
		gauge(c.queueLen, float64(s.QueueLen))
		gauge(c.queueHigh, float64(s.QueueHigh))
		gauge(c.queueLimit, float64(s.QueueLimit))
		running := 0.0
		if s.State == "running" {
			running = 1
		}
		gauge(c.up, running)
	}
	ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(c.node.DroppedReplies()))
	ch <- prometheus.MustNewConstMetric(c.undeliverable, prometheus.CounterValue, float64(c.node.Undeliverable()))
}

// metricsServer serves /metrics for one node.
type metricsServer struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// errNeedsToken is returned for a non-loopback metrics address without a token.
var errNeedsToken = errors.New("metrics: refusing to listen on a non-loopback address without Node.metricsToken; set a token or bind to 127.0.0.1")

// startMetrics listens on addr and serves the node's metrics at /metrics.
// A non-loopback addr needs a token, sent by scrapers as a bearer token.
func startMetrics(addr, token string, n statsSource) (*metricsServer, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" && token == "" {
		return nil, errNeedsToken
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(newCollector(n), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var h http.Handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	if token != "" {
		inner := h
		want := []byte("Bearer " + token)
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
				http.Error(w, "metrics: missing or wrong bearer token", http.StatusUnauthorized)
				return
			}
			inner.ServeHTTP(w, r)
		})
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", h)
	ln, err := sdk.Listen(context.Background(), addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	m := &metricsServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, ln: ln, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		_ = m.srv.Serve(ln) // returns http.ErrServerClosed after close
	}()
	return m, nil
}

// Addr returns the address the server listens on.
func (m *metricsServer) Addr() string { return m.ln.Addr().String() }

func (m *metricsServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = m.srv.Shutdown(ctx)
	<-m.done
}

package live

import "github.com/prometheus/client_golang/prometheus"

// metrics are the hub's Prometheus series. They are always counted; a
// Config without Registry registers none.
type metrics struct {
	evaluations prometheus.Counter
	evalSeconds prometheus.Histogram
	pushes      prometheus.Counter
	latency     prometheus.Histogram
	refused     *prometheus.CounterVec
}

func newMetrics(h *Hub, reg prometheus.Registerer) metrics {
	m := metrics{
		evaluations: prometheus.NewCounter(prometheus.CounterOpts{Name: "tally_live_evaluations_total", Help: "Runs of live queries (first results and re-runs after writes)."}),
		evalSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tally_live_evaluation_duration_seconds", Help: "Time one run of a live query takes.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 4, 10)}),
		pushes: prometheus.NewCounter(prometheus.CounterOpts{Name: "tally_live_pushes_total", Help: "Live query results written to subscribers, first results included."}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tally_live_push_latency_seconds", Help: "From a write's acknowledgement to the push of a result that reflects it.",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2.5, 5, 10}}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tally_live_refused_total", Help: "Connections and subscriptions refused by a limit, by limit."}, []string{"limit"}),
	}
	if reg == nil {
		return m
	}
	gauge := func(name, help string, v func(Stats) int) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return float64(v(h.Stats())) })
	}
	reg.MustRegister(
		gauge("tally_live_connections", "WebSocket connections open.", func(s Stats) int { return s.Connections }),
		gauge("tally_live_subscriptions", "Subscriptions open.", func(s Stats) int { return s.Subscriptions }),
		gauge("tally_live_queries", "Live queries: distinct subscriptions, each evaluated once for all its subscribers.", func(s Stats) int { return s.Queries }),
		m.evaluations, m.evalSeconds, m.pushes, m.latency, m.refused,
	)
	return m
}

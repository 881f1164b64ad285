package reconcile

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/risksync/risksync/internal/registry"
)

// Metrics are the registry's and the daemon's Prometheus series, so risks
// show up on the same dashboards as incidents.
type Metrics struct {
	riskScore     *prometheus.GaugeVec
	risks         *prometheus.GaugeVec
	stagnant      prometheus.Gauge
	passDuration  prometheus.Histogram
	passFailures  prometheus.Gauge
	lastPass      prometheus.Gauge
	requests      *prometheus.CounterVec
	requestTime   *prometheus.HistogramVec
	rateLimited   *prometheus.CounterVec
	writes        *prometheus.CounterVec
	webhooks      *prometheus.CounterVec
	leader        prometheus.Gauge
	reportFailing prometheus.Gauge
	backingOff    *prometheus.GaugeVec
	overdue       *prometheus.GaugeVec
}

// NewMetrics registers the series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		riskScore: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "risksync_risk_score", Help: "Score of each scored risk that is not accepted or retired."}, []string{"key", "owner", "band"}),
		risks:     prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "risksync_risks", Help: "Risks by band, status and owner."}, []string{"band", "status", "owner"}),
		stagnant:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "risksync_stagnant_risks", Help: "Active or mitigating risks whose linked work stopped moving."}),
		passDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "risksync_pass_duration_seconds", Help: "Duration of sync passes.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 12)}),
		passFailures: prometheus.NewGauge(prometheus.GaugeOpts{Name: "risksync_pass_failures", Help: "Risks or steps that did not converge in the last pass."}),
		lastPass:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "risksync_last_pass_timestamp_seconds", Help: "When the last pass ended."}),
		requests:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "risksync_tracker_requests_total", Help: "Tracker HTTP requests."}, []string{"tracker", "method", "status"}),
		requestTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "risksync_tracker_request_duration_seconds", Help: "Tracker HTTP request latency.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12)}, []string{"tracker"}),
		rateLimited:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "risksync_tracker_rate_limited_total", Help: "Tracker answers that asked risksync to wait (429, or 403 rate limits)."}, []string{"tracker"}),
		writes:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "risksync_tracker_writes_total", Help: "Tracker writes by kind."}, []string{"tracker", "kind"}),
		webhooks:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "risksync_webhook_deliveries_total", Help: "Webhook deliveries by result."}, []string{"tracker", "result"}),
		leader:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "risksync_leader", Help: "1 when this replica holds sync leadership."}),
		reportFailing: prometheus.NewGauge(prometheus.GaugeOpts{Name: "risksync_report_publish_failing", Help: "1 while the last report publication failed."}),
		backingOff: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "risksync_risks_backing_off",
			Help: "Risks not tried this pass after repeated failures, by tracker; /readyz names each with the fix its error gives."}, []string{"tracker"}),
		overdue: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "risksync_reviews_overdue",
			Help: "Open risks (not accepted or retired) whose review is past due, by band: a critical one unreviewed past its cadence pages."}, []string{"band"}),
	}
	reg.MustRegister(m.riskScore, m.risks, m.stagnant, m.passDuration, m.passFailures, m.lastPass, m.requests, m.requestTime,
		m.rateLimited, m.writes, m.webhooks, m.leader, m.reportFailing, m.backingOff, m.overdue)
	return m
}

// ObserveRequest counts one tracker HTTP attempt.
func (m *Metrics) ObserveRequest(tracker, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(tracker, method, strconv.Itoa(status)).Inc()
	m.requestTime.WithLabelValues(tracker).Observe(d.Seconds())
	if status == 429 {
		m.rateLimited.WithLabelValues(tracker).Inc()
	}
}

// ObserveWrite counts one tracker write.
func (m *Metrics) ObserveWrite(w registry.Write) {
	m.writes.WithLabelValues(w.Tracker, string(w.Kind)).Inc()
}

// ObserveWebhook counts one delivery: stored, replay, unauthorized, too_large, rejected.
func (m *Metrics) ObserveWebhook(tracker, result string) {
	m.webhooks.WithLabelValues(tracker, result).Inc()
}

// SetLeader records leadership.
func (m *Metrics) SetLeader(leading bool) {
	v := 0.0
	if leading {
		v = 1
	}
	m.leader.Set(v)
}

// SetReportFailing records whether report publication is failing.
func (m *Metrics) SetReportFailing(failing bool) {
	v := 0.0
	if failing {
		v = 1
	}
	m.reportFailing.Set(v)
}

// ObservePass records a pass and the registry it left.
func (m *Metrics) ObservePass(res *Result, stagnant int, now time.Time) {
	m.passDuration.Observe(res.Duration.Seconds())
	m.passFailures.Set(float64(len(res.Failures)))
	m.lastPass.Set(float64(now.Unix()))
	m.stagnant.Set(float64(stagnant))
	m.backingOff.Reset()
	for _, f := range res.Failures {
		if f.BackingOff() {
			m.backingOff.WithLabelValues(f.Tracker).Inc()
		}
	}
	m.ObserveRegistry(res.Risks, now)
}

// ObserveRegistry sets the per-risk and per-group gauges from the registry.
func (m *Metrics) ObserveRegistry(risks []*registry.Risk, now time.Time) {
	m.riskScore.Reset()
	m.risks.Reset()
	m.overdue.Reset()
	for _, r := range risks {
		band, owner := r.Band, r.Owner
		if band == "" {
			band = "unscored"
		}
		if owner == "" {
			owner = "unowned"
		}
		m.risks.WithLabelValues(band, string(r.Status), owner).Inc()
		if !r.Status.Decided() && r.ReviewDueAt != nil && r.ReviewDueAt.Before(now) {
			m.overdue.WithLabelValues(band).Inc()
		}
		if r.Score != nil && !r.Status.Decided() {
			m.riskScore.WithLabelValues(r.Key, owner, band).Set(*r.Score)
		}
	}
}

package reconcile_test

import (
	"encoding/json"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/risksync/risksync/internal/auth"
	"github.com/risksync/risksync/internal/reconcile"
	"github.com/risksync/risksync/internal/registry/registrytest"
)

// describing records every collector registered, so the test sees each
// metric's name even before a series of it exists.
type describing struct{ names map[string]bool }

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (d *describing) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 64)
	go func() { c.Describe(ch); close(ch) }()
	for desc := range ch {
		if m := fqName.FindStringSubmatch(desc.String()); m != nil {
			d.names[m[1]] = true
		}
	}
	return nil
}
func (d *describing) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = d.Register(c)
	}
}
func (d *describing) Unregister(prometheus.Collector) bool { return true }

// exported lists the metric names risksync serves: reconcile's and auth's.
func exported(t *testing.T) map[string]bool {
	d := &describing{names: map[string]bool{}}
	reconcile.NewMetrics(d)
	store := registrytest.MustOpenSQLite(t, registrytest.DefaultOptions(registrytest.NewClock()))
	if _, err := auth.New(auth.Options{Tokens: store, Registerer: d}); err != nil {
		t.Fatal(err)
	}
	return d.names
}

// metricsOf returns the metric names a PromQL expression selects; a
// histogram's _bucket, _sum and _count count as the histogram.
func metricsOf(t *testing.T, p parser.Parser, where, expr string) []string {
	t.Helper()
	e, err := p.ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: %q: %v", where, expr, err)
		return nil
	}
	var out []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			name := vs.Name
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				name = strings.TrimSuffix(name, suffix)
			}
			out = append(out, name)
		}
		return nil
	})
	if len(out) == 0 {
		t.Errorf("%s: %q selects no metric", where, expr)
	}
	return out
}

func TestDeployRulesAndDashboard(t *testing.T) {
	names := exported(t)
	if !names["risksync_reviews_overdue"] || !names["risksync_api_auth_failures_total"] {
		t.Fatalf("exported names miss some: %v", names)
	}
	p := parser.NewParser(parser.Options{})
	used := map[string]bool{}

	groups, errs := rulefmt.ParseFile("../../deploy/prometheus-rules.yml", false, model.UTF8Validation, p, slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatalf("rules: %v", errs)
	}
	var alerts []string
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			for _, m := range metricsOf(t, p, "rule "+r.Alert, r.Expr) {
				used[m] = true
			}
		}
	}
	for _, want := range []string{"RisksyncSyncFailing", "RisksyncReportPublishFailing", "RisksyncStagnantRisksGrowing", "RisksyncCriticalRiskUnreviewed"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("no alert %s in %v", want, alerts)
		}
	}

	raw, err := os.ReadFile("../../deploy/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	if len(dash.Panels) < 8 {
		t.Fatalf("dashboard has %d panels", len(dash.Panels))
	}
	for _, panel := range dash.Panels {
		for _, tg := range panel.Targets {
			for _, m := range metricsOf(t, p, "panel "+panel.Title, tg.Expr) {
				used[m] = true
			}
		}
	}
	for m := range used {
		if !names[m] {
			t.Errorf("%s is queried but risksync does not export it", m)
		}
	}
	// The check can fail: a name risksync does not export is caught.
	if m := metricsOf(t, p, "control", `rate(risksync_made_up_total[5m])`); names[m[0]] {
		t.Error("the control metric counts as exported")
	}
}

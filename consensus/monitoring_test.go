package consensus

import (
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/node"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/consort-ledger/consort/abci"
)

// The monitoring files checked here, from this package's folder.
const (
	dashboardFile = "../scripts/monitoring/dashboard.json"
	alertsFile    = "../scripts/monitoring/alerts.yml"
)

// futureMetrics may appear in alert rules before any code exports them,
// with what will export them.
var futureMetrics = map[string]string{}

// metricName matches the names of consort's and CometBFT's metrics in a
// PromQL expression.
var metricName = regexp.MustCompile(`\b(?:consort|cometbft)_[a-z0-9_]+\b`)

// nameRecorder is a Registerer that keeps the names of what is registered.
type nameRecorder struct{ names map[string]bool }

var descName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *nameRecorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		if m := descName.FindStringSubmatch(d.String()); m != nil {
			r.names[m[1]] = true
		}
	}
	return nil
}

func (r *nameRecorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = r.Register(c)
	}
}

func (r *nameRecorder) Unregister(prometheus.Collector) bool { return true }

// knownMetrics names every metric a consort node exports: consort's from
// package abci and the signer's, and CometBFT's as its metrics provider registers them
// (namespace "cometbft", the config default that InitHome keeps).
func knownMetrics(t *testing.T) map[string]bool {
	t.Helper()
	rec := &nameRecorder{names: map[string]bool{}}
	if _, err := abci.PrometheusMetrics(rec); err != nil {
		t.Fatal(err)
	}
	if _, err := SignerPrometheusMetrics(rec); err != nil {
		t.Fatal(err)
	}
	saved := prometheus.DefaultRegisterer
	prometheus.DefaultRegisterer = rec
	t.Cleanup(func() { prometheus.DefaultRegisterer = saved })
	node.DefaultMetricsProvider(&cmtcfg.InstrumentationConfig{Prometheus: true, Namespace: "cometbft"})("consort-test")
	if !rec.names["cometbft_consensus_height"] || !rec.names["consort_txs_total"] {
		t.Fatalf("recorded metric names lack the obvious ones: %v", rec.names)
	}
	return rec.names
}

// unknownNames returns the metric names in expr that no node exports.
// Histogram series (_bucket, _sum, _count) count as their histogram.
func unknownNames(expr string, known map[string]bool) []string {
	var bad []string
	for _, name := range metricName.FindAllString(expr, -1) {
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suffix); ok && known[b] {
				base = b
			}
		}
		if !known[base] && futureMetrics[name] == "" {
			bad = append(bad, name)
		}
	}
	return bad
}

type dashboardPanel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"` // of a collapsed row
}

func TestDashboard(t *testing.T) {
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string           `json:"uid"`
		Title  string           `json:"title"`
		Panels []dashboardPanel `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("%s is not valid JSON: %v", dashboardFile, err)
	}
	if dash.UID == "" || dash.Title == "" {
		t.Errorf("dashboard: got uid %q title %q, want both set", dash.UID, dash.Title)
	}
	known := knownMetrics(t)
	var all []dashboardPanel
	for _, p := range dash.Panels {
		all = append(append(all, p), p.Panels...)
	}
	ids := map[int]bool{}
	graphs := 0
	for _, p := range all {
		if ids[p.ID] {
			t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		graphs++
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, target := range p.Targets {
			if len(metricName.FindAllString(target.Expr, -1)) == 0 {
				t.Errorf("panel %q: query %q names no consort_ or cometbft_ metric", p.Title, target.Expr)
			}
			if bad := unknownNames(target.Expr, known); len(bad) > 0 {
				t.Errorf("panel %q: query %q names metrics no node exports: %v", p.Title, target.Expr, bad)
			}
		}
	}
	if graphs < 10 {
		t.Errorf("got %d panels, want the overview's (height, interval, txs, latency, peers, mempool, paused, rejections, supply)", graphs)
	}
}

func TestAlertRulesNameExistingMetrics(t *testing.T) {
	b, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	known := knownMetrics(t)
	bad := unknownNames(string(b), known)
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("%s names metrics no node exports: %v", alertsFile, bad)
	}
	for name, from := range futureMetrics {
		if known[name] {
			t.Errorf("%s is exported now: remove it from futureMetrics (it was waiting for %s)", name, from)
		}
	}
}

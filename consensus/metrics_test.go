package consensus

import (
	"testing"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

func TestMetricsProviderTwiceInOneProcess(t *testing.T) {
	// CometBFT registers with whatever DefaultRegisterer is at call time; a
	// private registry keeps this test from taking the names the node test
	// expects to find on /metrics.
	reg := prometheus.NewRegistry()
	saved := prometheus.DefaultRegisterer
	prometheus.DefaultRegisterer = reg
	t.Cleanup(func() { prometheus.DefaultRegisterer = saved })

	provide := metricsProvider(&cmtcfg.InstrumentationConfig{Prometheus: true, Namespace: "cometbft"}, zerolog.Nop())
	for i := range 2 {
		cs, p2pm, mp, sm, px, bs, ss := provide("consort-test")
		if cs == nil || p2pm == nil || mp == nil || sm == nil || px == nil || bs == nil || ss == nil {
			t.Fatalf("call %d: got nil metrics", i+1)
		}
		cs.Height.Set(float64(i + 1))
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var height float64
	for _, f := range families {
		if f.GetName() == "cometbft_consensus_height" {
			height = f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	// Only the first call's metrics are registered; the second are no-ops.
	if height != 1 {
		t.Errorf("got registered consensus height %v, want 1 (from the first call)", height)
	}
}

package consensus

import (
	"testing"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/rs/zerolog"
)

func TestMetricsProviderTwiceInOneProcess(t *testing.T) {
	cfg := &cmtcfg.InstrumentationConfig{Prometheus: true, Namespace: "cometbft"}
	provide := metricsProvider(cfg, zerolog.Nop())
	for i := range 2 {
		cs, p2pm, mp, sm, px, bs, ss := provide("consort-test")
		if cs == nil || p2pm == nil || mp == nil || sm == nil || px == nil || bs == nil || ss == nil {
			t.Fatalf("call %d: got nil metrics", i+1)
		}
	}
}

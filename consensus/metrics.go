package consensus

import (
	"errors"

	"github.com/cometbft/cometbft/blocksync"
	cmtcfg "github.com/cometbft/cometbft/config"
	cmtcs "github.com/cometbft/cometbft/consensus"
	"github.com/cometbft/cometbft/mempool"
	"github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/proxy"
	"github.com/cometbft/cometbft/state"
	"github.com/cometbft/cometbft/statesync"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// metricsProvider is node.DefaultMetricsProvider made safe for a second node
// in one process. CometBFT registers its metrics with the global Prometheus
// registry and panics when they are already there, which any second
// in-process node (multi-node tests, `go test -count=2`) would do. Such a
// node runs with no-op metrics instead, and says so.
func metricsProvider(cfg *cmtcfg.InstrumentationConfig, logger zerolog.Logger) node.MetricsProvider {
	withProm := node.DefaultMetricsProvider(cfg)
	noop := node.DefaultMetricsProvider(&cmtcfg.InstrumentationConfig{Prometheus: false})
	return func(chainID string) (
		cs *cmtcs.Metrics, p2pm *p2p.Metrics, mp *mempool.Metrics, sm *state.Metrics,
		px *proxy.Metrics, bs *blocksync.Metrics, ss *statesync.Metrics,
	) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if err, ok := r.(error); !ok || !errors.As(err, &prometheus.AlreadyRegisteredError{}) {
				panic(r)
			}
			logger.Warn().Msg("cometbft metrics already registered in this process; this node reports none")
			cs, p2pm, mp, sm, px, bs, ss = noop(chainID)
		}()
		return withProm(chainID)
	}
}

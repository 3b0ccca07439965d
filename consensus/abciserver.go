package consensus

import (
	"context"
	"fmt"

	abciserver "github.com/cometbft/cometbft/abci/server"
	cmtabci "github.com/cometbft/cometbft/abci/types"
	"github.com/rs/zerolog"
)

// ServeABCI serves app over CometBFT's ABCI socket protocol on addr (for
// example "tcp://127.0.0.1:26658" or "unix:///run/consort.sock") until ctx
// is done, so a separate `cometbft start --proxy_app <addr>` can drive it.
// It returns nil once stopped by ctx, or an error if addr cannot be served.
func ServeABCI(ctx context.Context, addr string, app cmtabci.Application, logger zerolog.Logger) error {
	srv, err := abciserver.NewServer(addr, "socket", app)
	if err != nil {
		return fmt.Errorf("create abci server: %w", err)
	}
	srv.SetLogger(NewCometLogger(logger.With().Str("module", "abci-server").Logger()))
	if err := srv.Start(); err != nil {
		return fmt.Errorf("serve abci on %s: %w", addr, err)
	}
	<-ctx.Done()
	if err := srv.Stop(); err != nil {
		return fmt.Errorf("stop abci server: %w", err)
	}
	return nil
}

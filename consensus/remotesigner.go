package consensus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/privval"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/rs/zerolog"
)

// Remote signer connection settings.
const (
	// remoteReadWriteTimeout bounds one exchange with the node. The node
	// pings an idle connection more often than this.
	remoteReadWriteTimeout = 5 * time.Second
	// remoteDialFirstWait and remoteDialMaxWait bound the pause between
	// failed dials: doubling from the first to the most. A starting node
	// waits 3s for its signer, so the most stays well below that.
	remoteDialFirstWait = 100 * time.Millisecond
	remoteDialMaxWait   = time.Second
)

// ServeSigner serves pv to the node whose priv_validator_laddr is addr
// ("tcp://HOST:PORT" or "unix:///path"): it dials the node, answers its
// public key and signing requests for chainID, and dials again whenever the
// connection is lost or refused (backing off up to a second), until
// ctx is done. It returns nil once stopped by ctx.
//
// It uses CometBFT's own SignerDialerEndpoint and SignerServer. Their dial
// loop gives up after a number of attempts and cannot be interrupted, so
// the dialer given to them waits between failures itself, with no limit on
// attempts, and once ctx is done hands back a closed connection, on which
// the stopped server ends.
func ServeSigner(ctx context.Context, addr, chainID string, pv cmttypes.PrivValidator, logger zerolog.Logger) error {
	dial, err := signerDialer(addr)
	if err != nil {
		return err
	}
	if chainID == "" {
		return errors.New("remote signer: chain id is required")
	}
	logger = logger.With().Str("module", "remote-signer").Str("node", addr).Logger()
	endpoint := privval.NewSignerDialerEndpoint(NewCometLogger(logger), backoffDialer(ctx, dial, logger),
		privval.SignerDialerEndpointTimeoutReadWrite(remoteReadWriteTimeout),
		privval.SignerDialerEndpointConnRetries(math.MaxInt),
		privval.SignerDialerEndpointRetryWaitInterval(time.Millisecond),
	)
	server := privval.NewSignerServer(endpoint, chainID, pv)
	if err := server.Start(); err != nil {
		return fmt.Errorf("start remote signer: %w", err)
	}
	logger.Info().Str("chain_id", chainID).Msg("remote signer serving")
	<-ctx.Done()
	if err := server.Stop(); err != nil {
		return fmt.Errorf("stop remote signer: %w", err)
	}
	return nil
}

// signerDialer returns the dial function for a priv_validator_laddr.
func signerDialer(addr string) (privval.SocketDialer, error) {
	switch {
	case strings.HasPrefix(addr, "tcp://"):
		// The connection is encrypted with a throwaway key: the node does
		// not authenticate the signer by key, and this key signs nothing.
		return privval.DialTCPFn(strings.TrimPrefix(addr, "tcp://"), remoteReadWriteTimeout, ed25519.GenPrivKey()), nil
	case strings.HasPrefix(addr, "unix://"):
		return privval.DialUnixFn(strings.TrimPrefix(addr, "unix://")), nil
	}
	return nil, fmt.Errorf("remote signer: node address %q: want tcp://HOST:PORT or unix:///PATH (the node's priv_validator_laddr)", addr)
}

// backoffDialer wraps dial: after a failure the next attempt waits, twice
// as long each time up to remoteDialMaxWait; once ctx is done it returns a
// closed connection at once.
func backoffDialer(ctx context.Context, dial privval.SocketDialer, logger zerolog.Logger) privval.SocketDialer {
	wait, failures := time.Duration(0), 0
	return func() (net.Conn, error) {
		if wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
		if ctx.Err() != nil {
			a, b := net.Pipe()
			b.Close()
			return a, nil
		}
		conn, err := dial()
		if err != nil {
			failures++
			wait = min(max(2*wait, remoteDialFirstWait), remoteDialMaxWait)
			if failures == 1 || failures%20 == 0 {
				logger.Warn().Err(err).Int("attempts", failures).Msg("cannot reach the node; retrying")
			}
			return nil, err
		}
		if failures > 0 {
			logger.Info().Int("attempts", failures+1).Msg("connected to the node")
		}
		wait, failures = 0, 0
		return conn, nil
	}
}

package consensus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/node"
	rpccore "github.com/cometbft/cometbft/rpc/core"
	rpctypes "github.com/cometbft/cometbft/rpc/jsonrpc/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// The paths Health serves.
const (
	MetricsPath = "/metrics" // Prometheus exposition: CometBFT's metrics and consort's
	HealthzPath = "/healthz" // liveness: 200 "ok" while the process serves HTTP
	ReadyzPath  = "/readyz"  // readiness: 200 or 503, with a JSON body
)

// healthStopTimeout bounds how long Run waits for scrapes in flight when it
// stops the server.
const healthStopTimeout = 5 * time.Second

// HealthConfig configures the node's monitoring endpoint.
type HealthConfig struct {
	// ListenAddr is the host:port where /metrics, /healthz and /readyz are
	// served; empty serves nothing. Default "" (MoveMetricsListener fills it
	// in from the node's config).
	ListenAddr string
	// MinPeers is how many peers a node needs to be ready, unless it is the
	// only validator of its chain. Default 1.
	MinPeers int
	// SignerTimeout bounds how long /readyz waits for the validator's signer
	// to answer. Default 2s.
	SignerTimeout time.Duration
	// MaxOpenConnections bounds concurrent /metrics scrapes; 0 means no
	// bound. Default 3, CometBFT's instrumentation.max_open_connections.
	MaxOpenConnections int
}

// DefaultHealthConfig returns the defaults stated in HealthConfig.
func DefaultHealthConfig() HealthConfig {
	return HealthConfig{MinPeers: 1, SignerTimeout: 2 * time.Second, MaxOpenConnections: 3}
}

// Health is the node's monitoring endpoint: Prometheus metrics, liveness
// and readiness on one listener (instrumentation.prometheus_listen_addr).
// It replaces CometBFT's own metrics server, which serves nothing but
// metrics; see MoveMetricsListener.
type Health struct {
	cfg      HealthConfig
	gatherer prometheus.Gatherer
	log      zerolog.Logger

	mu  sync.Mutex
	srv *http.Server
	ln  net.Listener
}

// NodeStatus is what readiness is decided from.
type NodeStatus struct {
	Height     int64 `json:"height"`      // latest block in the block store
	CatchingUp bool  `json:"catching_up"` // block sync or state sync is still running
	Peers      int   `json:"peers"`       // connected p2p peers
	Validators int   `json:"validators"`  // size of the current validator set
	Validator  bool  `json:"validator"`   // this node's key is in that set
	// SignerError says why the validator's signer did not answer; empty when
	// it did, or when the node is no validator.
	SignerError string `json:"signer_error,omitempty"`
}

// StatusSource reports a node's status for /readyz.
type StatusSource interface {
	// Status reports the status now. An error means the node cannot tell
	// (it is not running, or stopping); it is not ready then.
	Status(ctx context.Context) (NodeStatus, error)
}

// MoveMetricsListener hands the node's metrics address over to Health. It
// returns DefaultHealthConfig serving at conf's
// instrumentation.prometheus_listen_addr and clears that address in conf,
// so the node built from conf next does not open CometBFT's own
// metrics-only server on it. CometBFT still records its metrics
// (instrumentation.prometheus is left on) into the Prometheus default
// registry; Health serves whatever gatherer it is given, so give it that
// registry to keep them. With instrumentation.prometheus off, nothing is
// served and conf is left as it is. Call it before NewNode.
func MoveMetricsListener(conf *cmtcfg.Config) HealthConfig {
	cfg := DefaultHealthConfig()
	if conf.Instrumentation == nil || !conf.Instrumentation.IsPrometheusEnabled() {
		return cfg
	}
	cfg.ListenAddr = strings.TrimPrefix(conf.Instrumentation.PrometheusListenAddr, "tcp://")
	cfg.MaxOpenConnections = conf.Instrumentation.MaxOpenConnections
	conf.Instrumentation.PrometheusListenAddr = ""
	return cfg
}

// NewHealth returns the endpoint serving the metrics gatherer collects.
// It serves nothing until Start or Run.
func NewHealth(cfg HealthConfig, gatherer prometheus.Gatherer, logger zerolog.Logger) *Health {
	return &Health{cfg: cfg, gatherer: gatherer, log: logger.With().Str("module", "health").Logger()}
}

// Run serves the endpoint while the node runs: it starts listening, runs n
// as Run does until ctx is done, then stops the server. A port that cannot
// be bound is an error before the node starts.
func (h *Health) Run(ctx context.Context, n *node.Node) error {
	if err := h.Start(NewNodeStatusSource(n, h.cfg.SignerTimeout)); err != nil {
		return err
	}
	runErr := Run(ctx, n)
	stopCtx, cancel := context.WithTimeout(context.Background(), healthStopTimeout)
	defer cancel()
	return errors.Join(runErr, h.Stop(stopCtx))
}

// Start listens on cfg.ListenAddr and serves in the background, asking
// status about readiness. With no address it does nothing.
func (h *Health) Start(status StatusSource) error {
	if h.cfg.ListenAddr == "" {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.srv != nil {
		return errors.New("health endpoint already started")
	}
	ln, err := net.Listen("tcp", h.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("metrics and health listener: %w", err)
	}
	h.ln = ln
	h.srv = &http.Server{Handler: h.Handler(status), ReadHeaderTimeout: 10 * time.Second}
	go func(srv *http.Server) {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.log.Error().Err(err).Str("addr", ln.Addr().String()).Msg("metrics and health server stopped")
		}
	}(h.srv)
	h.log.Info().Str("addr", ln.Addr().String()).Msg("serving " + MetricsPath + ", " + HealthzPath + " and " + ReadyzPath)
	return nil
}

// Addr is the address being served, "" before Start.
func (h *Health) Addr() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ln == nil {
		return ""
	}
	return h.ln.Addr().String()
}

// Stop stops serving, waiting until ctx is done for requests in flight.
func (h *Health) Stop(ctx context.Context) error {
	h.mu.Lock()
	srv := h.srv
	h.srv, h.ln = nil, nil
	h.mu.Unlock()
	if srv == nil {
		return nil
	}
	if err := srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("stop metrics and health server: %w", err)
	}
	return nil
}

// Handler serves /metrics from the gatherer, /healthz, and /readyz from
// status.
func (h *Health) Handler(status StatusSource) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(MetricsPath, promhttp.HandlerFor(h.gatherer, promhttp.HandlerOpts{
		MaxRequestsInFlight: h.cfg.MaxOpenConnections,
		ErrorHandling:       promhttp.ContinueOnError, // one bad collector must not hide the rest
	}))
	mux.HandleFunc(HealthzPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc(ReadyzPath, func(w http.ResponseWriter, r *http.Request) {
		h.serveReadyz(w, r, status)
	})
	return mux
}

// readyzBody is the JSON answer of /readyz.
type readyzBody struct {
	Ready  bool   `json:"ready"`
	Reason string `json:"reason,omitempty"` // why not, when not ready
	NodeStatus
}

func (h *Health) serveReadyz(w http.ResponseWriter, r *http.Request, status StatusSource) {
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.SignerTimeout+time.Second)
	defer cancel()
	st, err := status.Status(ctx)
	body := readyzBody{NodeStatus: st}
	if err != nil {
		body.Reason = err.Error()
	} else {
		body.Reason = strings.Join(notReadyReasons(st, h.cfg.MinPeers), "; ")
	}
	body.Ready = body.Reason == ""
	w.Header().Set("Content-Type", "application/json")
	if !body.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	if err := json.NewEncoder(w).Encode(body); err != nil {
		h.log.Debug().Err(err).Msg("write /readyz answer")
	}
}

// notReadyReasons lists why a node in status st should not get traffic:
// it is catching up, it has fewer than minPeers peers (a lone validator
// needs none: it makes blocks by itself), or it is a validator whose signer
// does not answer.
func notReadyReasons(st NodeStatus, minPeers int) []string {
	var reasons []string
	if st.CatchingUp {
		reasons = append(reasons, fmt.Sprintf("catching up (at height %d)", st.Height))
	}
	alone := st.Validator && st.Validators == 1
	if !alone && st.Peers < minPeers {
		reasons = append(reasons, fmt.Sprintf("%d peers, want at least %d", st.Peers, minPeers))
	}
	if st.Validator && st.SignerError != "" {
		reasons = append(reasons, "signer: "+st.SignerError)
	}
	return reasons
}

// nodeStatusSource reads an in-process node's status.
type nodeStatusSource struct {
	n             *node.Node
	signerTimeout time.Duration

	mu     sync.Mutex
	env    *rpccore.Environment // from n.ConfigureRPC, once it has answered
	setup  flight               // n.ConfigureRPC, which asks the signer for its key
	signer flight               // the signer probe
}

var _ StatusSource = (*nodeStatusSource)(nil)

// NewNodeStatusSource reports n's status. It asks n's signer for its public
// key on each call, giving up after signerTimeout; for a file key that
// always answers at once.
func NewNodeStatusSource(n *node.Node, signerTimeout time.Duration) StatusSource {
	return &nodeStatusSource{n: n, signerTimeout: signerTimeout}
}

// Status implements StatusSource.
func (s *nodeStatusSource) Status(ctx context.Context) (NodeStatus, error) {
	if !s.n.IsRunning() {
		return NodeStatus{}, errors.New("node is not running")
	}
	st := NodeStatus{
		Height:     s.n.BlockStore().Height(),
		CatchingUp: s.n.ConsensusReactor().WaitSync(),
		Peers:      s.n.Switch().Peers().Size(),
	}
	env, err := s.rpcEnv(ctx)
	if err != nil {
		return st, fmt.Errorf("read validator set: %w", err)
	}
	addr := env.PubKey.Address()
	for page, perPage := 1, 100; ; page++ {
		vals, err := env.Validators(&rpctypes.Context{}, nil, &page, &perPage)
		if err != nil {
			return st, fmt.Errorf("read validator set: %w", err)
		}
		st.Validators = vals.Total
		for _, v := range vals.Validators {
			if v.Address.String() == addr.String() {
				st.Validator = true
			}
		}
		if page*perPage >= vals.Total {
			break
		}
	}
	if st.Validator {
		sctx, cancel := context.WithTimeout(ctx, s.signerTimeout)
		defer cancel()
		err := s.signer.do(sctx, func() error {
			_, err := s.n.PrivValidator().GetPubKey()
			return err
		})
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %v", s.signerTimeout)
		}
		if err != nil {
			st.SignerError = err.Error()
		}
	}
	return st, nil
}

// rpcEnv returns the node's RPC environment, made on first use: it gives
// the validator set without a round trip through the RPC server.
func (s *nodeStatusSource) rpcEnv(ctx context.Context) (*rpccore.Environment, error) {
	s.mu.Lock()
	env := s.env
	s.mu.Unlock()
	if env != nil {
		return env, nil
	}
	sctx, cancel := context.WithTimeout(ctx, s.signerTimeout)
	defer cancel()
	err := s.setup.do(sctx, func() error {
		env, err := s.n.ConfigureRPC()
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.env = env
		s.mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.env, nil
}

// flight runs one call of a function at a time and lets callers stop
// waiting for it: a signer that hangs costs one goroutine, not one per
// probe.
type flight struct {
	mu  sync.Mutex
	cur *flightCall
}

type flightCall struct {
	done chan struct{}
	err  error
}

// do runs fn, or joins the run in progress, and waits for it until ctx is
// done.
func (f *flight) do(ctx context.Context, fn func() error) error {
	f.mu.Lock()
	c := f.cur
	if c == nil {
		c = &flightCall{done: make(chan struct{})}
		f.cur = c
		go func() {
			c.err = fn()
			f.mu.Lock()
			f.cur = nil
			f.mu.Unlock()
			close(c.done)
		}()
	}
	f.mu.Unlock()
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

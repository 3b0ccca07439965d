package consensus

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometbft/cometbft/abci/example/kvstore"
	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

func TestNotReadyReasons(t *testing.T) {
	tests := []struct {
		name string
		st   NodeStatus
		want []string
	}{
		{"lone validator needs no peers", NodeStatus{Height: 9, Validators: 1, Validator: true}, nil},
		{"validator of four with peers", NodeStatus{Peers: 3, Validators: 4, Validator: true}, nil},
		{"full node with a peer", NodeStatus{Peers: 1, Validators: 4}, nil},
		{"validator of four alone", NodeStatus{Validators: 4, Validator: true}, []string{"0 peers, want at least 1"}},
		{"full node of a one-validator chain alone", NodeStatus{Validators: 1}, []string{"0 peers, want at least 1"}},
		{"catching up", NodeStatus{Height: 5, CatchingUp: true, Peers: 2, Validators: 4, Validator: true}, []string{"catching up (at height 5)"}},
		{"signer gone", NodeStatus{Peers: 2, Validators: 4, Validator: true, SignerError: "no answer within 2s"}, []string{"signer: no answer within 2s"}},
		{"signer of a non-validator does not matter", NodeStatus{Peers: 2, Validators: 4, SignerError: "gone"}, nil},
		{"everything wrong", NodeStatus{Height: 1, CatchingUp: true, Validators: 4, Validator: true, SignerError: "gone"},
			[]string{"catching up (at height 1)", "0 peers, want at least 1", "signer: gone"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := notReadyReasons(tt.st, 1)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if got := notReadyReasons(NodeStatus{Peers: 1, Validators: 4}, 2); len(got) != 1 {
		t.Errorf("MinPeers 2 with one peer: got %q, want one reason", got)
	}
}

// fakeStatus is a StatusSource with a fixed answer.
type fakeStatus struct {
	st  NodeStatus
	err error
}

func (f fakeStatus) Status(context.Context) (NodeStatus, error) { return f.st, f.err }

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

func TestHealthHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	probe := prometheus.NewCounter(prometheus.CounterOpts{Name: "consort_test_probe_total", Help: "test"})
	reg.MustRegister(probe)
	probe.Inc()
	h := NewHealth(DefaultHealthConfig(), reg, zerolog.Nop())

	tests := []struct {
		name       string
		source     fakeStatus
		wantCode   int
		wantReady  bool
		wantReason string
	}{
		{"ready", fakeStatus{st: NodeStatus{Height: 3, Peers: 3, Validators: 4, Validator: true}}, http.StatusOK, true, ""},
		{"no peers", fakeStatus{st: NodeStatus{Validators: 4, Validator: true}}, http.StatusServiceUnavailable, false, "0 peers, want at least 1"},
		{"node down", fakeStatus{err: errors.New("node is not running")}, http.StatusServiceUnavailable, false, "node is not running"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(h.Handler(tt.source))
			defer srv.Close()

			if code, body := get(t, srv.URL+HealthzPath); code != http.StatusOK || body != "ok\n" {
				t.Errorf("%s: got %d %q, want 200 \"ok\\n\"", HealthzPath, code, body)
			}
			code, body := get(t, srv.URL+ReadyzPath)
			if code != tt.wantCode {
				t.Errorf("%s: got status %d, want %d (%s)", ReadyzPath, code, tt.wantCode, body)
			}
			var got readyzBody
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("%s: body %q is not JSON: %v", ReadyzPath, body, err)
			}
			if got.Ready != tt.wantReady || got.Reason != tt.wantReason {
				t.Errorf("%s: got ready %v reason %q, want %v %q", ReadyzPath, got.Ready, got.Reason, tt.wantReady, tt.wantReason)
			}
			if got.NodeStatus != tt.source.st {
				t.Errorf("%s: got status %+v, want %+v", ReadyzPath, got.NodeStatus, tt.source.st)
			}
			if code, body := get(t, srv.URL+MetricsPath); code != http.StatusOK || !strings.Contains(body, "consort_test_probe_total 1") {
				t.Errorf("%s: got %d, want 200 with consort_test_probe_total 1:\n%s", MetricsPath, code, body)
			}
			if code, _ := get(t, srv.URL+"/nothing"); code != http.StatusNotFound {
				t.Errorf("/nothing: got %d, want 404", code)
			}
		})
	}
}

func TestMoveMetricsListener(t *testing.T) {
	conf := cmtcfg.DefaultConfig()
	conf.Instrumentation.Prometheus = true
	conf.Instrumentation.PrometheusListenAddr = "127.0.0.1:26660"
	cfg := MoveMetricsListener(conf)
	if cfg.ListenAddr != "127.0.0.1:26660" {
		t.Errorf("health listen address: got %q, want 127.0.0.1:26660", cfg.ListenAddr)
	}
	if conf.Instrumentation.PrometheusListenAddr != "" || conf.Instrumentation.IsPrometheusEnabled() {
		t.Errorf("CometBFT's own server: got address %q, want it cleared", conf.Instrumentation.PrometheusListenAddr)
	}
	if !conf.Instrumentation.Prometheus {
		t.Error("instrumentation.prometheus: got off, want CometBFT still recording metrics")
	}

	off := cmtcfg.DefaultConfig()
	off.Instrumentation.Prometheus = false
	off.Instrumentation.PrometheusListenAddr = "127.0.0.1:26660"
	if cfg := MoveMetricsListener(off); cfg.ListenAddr != "" || off.Instrumentation.PrometheusListenAddr != "127.0.0.1:26660" {
		t.Errorf("prometheus off: got health address %q and node address %q, want none and unchanged", cfg.ListenAddr, off.Instrumentation.PrometheusListenAddr)
	}
}

func TestHealthStartStop(t *testing.T) {
	cfg := DefaultHealthConfig()
	cfg.ListenAddr = "127.0.0.1:0"
	h := NewHealth(cfg, prometheus.NewRegistry(), zerolog.Nop())
	if err := h.Start(fakeStatus{}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	addr := h.Addr()
	if code, _ := get(t, "http://"+addr+HealthzPath); code != http.StatusOK {
		t.Errorf("%s: got %d, want 200", HealthzPath, code)
	}

	// A second endpoint on the same port fails at Start, not silently later.
	cfg.ListenAddr = addr
	if err := NewHealth(cfg, prometheus.NewRegistry(), zerolog.Nop()).Start(fakeStatus{}); err == nil {
		t.Error("second Start on a busy port: got no error, want one")
	}

	if err := h.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Errorf("%s still accepts connections after Stop", addr)
	}
	if err := h.Stop(context.Background()); err != nil {
		t.Errorf("second Stop: got %v, want nil", err)
	}

	// No address: nothing served, no error.
	none := NewHealth(DefaultHealthConfig(), prometheus.NewRegistry(), zerolog.Nop())
	if err := none.Start(fakeStatus{}); err != nil || none.Addr() != "" {
		t.Errorf("Start without an address: got %v, addr %q; want nil and none", err, none.Addr())
	}
}

func TestFlightRunsOneCallAtATime(t *testing.T) {
	var f flight
	var calls atomic.Int32
	release := make(chan struct{})
	hung := func() error { calls.Add(1); <-release; return errors.New("late") }
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		err := f.do(ctx, hung)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("hung call: got %v, want a deadline error", err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("calls while one hangs: got %d, want 1", n)
	}
	close(release)
	waitFor(t, 5*time.Second, "the hung call to end", func() bool {
		return f.do(context.Background(), func() error { return nil }) == nil
	})
}

// TestHealthRunWithNode runs a real node behind Health: the metrics
// listener serves CometBFT's metrics with the gatherer's own, /healthz, and
// a /readyz that a lone validator passes once its node runs.
func TestHealthRunWithNode(t *testing.T) {
	// CometBFT registers with whatever DefaultRegisterer is when the node is
	// made; a private registry keeps this node's series apart from other
	// tests' nodes.
	reg := prometheus.NewRegistry()
	saved := prometheus.DefaultRegisterer
	prometheus.DefaultRegisterer = reg
	t.Cleanup(func() { prometheus.DefaultRegisterer = saved })
	own := prometheus.NewGauge(prometheus.GaugeOpts{Name: "consort_test_gauge", Help: "test"})
	reg.MustRegister(own)
	own.Set(7)

	hc := testHomeConfig(t)
	hc.AppState = json.RawMessage(`{}`)
	conf, err := InitHome(hc)
	if err != nil {
		t.Fatalf("InitHome: %v", err)
	}
	conf.P2P.PexReactor = false // see TestNodeCommitsTx
	logs := newLogBuffer(t)
	logger, err := NewZerolog(logs, LogFormatJSON, "info")
	if err != nil {
		t.Fatal(err)
	}
	health := NewHealth(MoveMetricsListener(conf), reg, logger)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n, err := NewNode(ctx, conf, kvstore.NewInMemoryApplication(), logger)
	if err != nil {
		t.Fatalf("NewNode: %v", err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- health.Run(ctx, n) }()

	base := "http://" + hc.PrometheusListen
	waitFor(t, 30*time.Second, "/readyz to answer 200", func() bool {
		resp, err := http.Get(base + ReadyzPath)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	_, body := get(t, base+ReadyzPath)
	var ready readyzBody
	if err := json.Unmarshal([]byte(body), &ready); err != nil {
		t.Fatalf("/readyz body %q: %v", body, err)
	}
	if !ready.Ready || !ready.Validator || ready.Validators != 1 || ready.CatchingUp {
		t.Errorf("/readyz: got %+v, want a ready lone validator", ready)
	}
	if code, body := get(t, base+HealthzPath); code != http.StatusOK || body != "ok\n" {
		t.Errorf("%s: got %d %q, want 200 ok", HealthzPath, code, body)
	}
	waitFor(t, 30*time.Second, "a block", func() bool { return n.BlockStore().Height() > 1 })
	_, metrics := get(t, base+MetricsPath)
	for _, want := range []string{"cometbft_consensus_height{", "cometbft_consensus_validators{", "consort_test_gauge 7"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	cancel()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("node did not stop within 30s")
	}
	if _, err := net.DialTimeout("tcp", hc.PrometheusListen, time.Second); err == nil {
		t.Errorf("%s still accepts connections after Run returned", hc.PrometheusListen)
	}
}

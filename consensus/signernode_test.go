package consensus

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/abci/example/kvstore"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/consort-ledger/consort/certs"
	"github.com/consort-ledger/consort/certs/certstest"
)

// signerNode is a one-validator home whose validator key is keys' version 1.
func signerNode(t *testing.T, keys *certstest.KeyProvider) (HomeConfig, *rpchttp.HTTP) {
	t.Helper()
	hc := testHomeConfig(t)
	hc.AppState = json.RawMessage(`{}`)
	pub, err := keys.PubKey(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	hc.ValidatorKey = pub
	rpc, err := rpchttp.New(hc.RPCListen, "/websocket")
	if err != nil {
		t.Fatal(err)
	}
	return hc, rpc
}

func height(ctx context.Context, rpc *rpchttp.HTTP) int64 {
	st, err := rpc.Status(ctx)
	if err != nil {
		return 0
	}
	return st.SyncInfo.LatestBlockHeight
}

// runNodeForTest runs run in the background and, when the test ends,
// cancels it and waits for it to return.
func runNodeForTest(t *testing.T, ctx context.Context, cancel context.CancelFunc, run func() error) {
	t.Helper()
	stopped := make(chan error, 1)
	go func() { stopped <- run() }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-stopped:
			if err != nil {
				t.Errorf("node: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("node did not stop within 30s")
		}
	})
}

// TestNodeWithSignerSurvivesKeyOutage: an in-process node signing through
// a Signer commits blocks with the provider's key as its validator; while
// the provider fails no block is made and nothing is signed twice; once it
// is back the node goes on by itself.
func TestNodeWithSignerSurvivesKeyOutage(t *testing.T) {
	keys, store := certstest.NewKeyProvider(), certstest.NewStore()
	hc, rpc := signerNode(t, keys)
	conf, err := InitHome(hc)
	if err != nil {
		t.Fatal(err)
	}
	conf.P2P.PexReactor = false
	logs := newLogBuffer(t)
	logger, err := NewZerolog(logs, LogFormatJSON, "info")
	if err != nil {
		t.Fatal(err)
	}
	stateFile := filepath.Join(hc.Home, "data", "consort_signer_state.json")
	s, err := NewSigner(SignerConfig{StateFile: stateFile, KeyName: "val", Store: store}, keys, logger)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n, err := NewNodeWithSigner(ctx, conf, kvstore.NewInMemoryApplication(), s, logger)
	if err != nil {
		t.Fatal(err)
	}
	runNodeForTest(t, ctx, cancel, func() error { return Run(ctx, n) })
	waitFor(t, 30*time.Second, "height 3", func() bool { return height(ctx, rpc) >= 3 })

	vals, err := rpc.Validators(ctx, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(vals.Validators) != 1 || !vals.Validators[0].PubKey.Equals(hc.ValidatorKey) {
		t.Fatalf("validators %v, want the provider's version 1 alone", vals.Validators)
	}

	keys.SetDown(true)
	waitFor(t, 10*time.Second, "a failed signature", func() bool {
		return testutil.ToFloat64(s.metrics.Errors.WithLabelValues(SignerErrorKey)) > 0
	})
	stalled := height(ctx, rpc)
	// Longer than the propose timeout (3s): a round that CometBFT gives up
	// on must not leave the chain stuck once the key is back.
	time.Sleep(4 * time.Second)
	if h := height(ctx, rpc); h > stalled+1 {
		t.Fatalf("height went from %d to %d while the key provider was down", stalled, h)
	}
	checkStateWithinWatermark(t, stateFile, store, "val")

	keys.SetDown(false)
	waitFor(t, 30*time.Second, "blocks after the outage", func() bool { return height(ctx, rpc) >= stalled+3 })
	checkStateWithinWatermark(t, stateFile, store, "val")
}

// checkStateWithinWatermark: the local state never passes the shared
// watermark, and at the same position it holds the bytes claimed there.
func checkStateWithinWatermark(t *testing.T, stateFile string, store certs.VersionedStore, key string) {
	t.Helper()
	st, err := loadSignState(stateFile)
	if err != nil {
		t.Fatal(err)
	}
	raw, _, err := store.Read(t.Context(), watermarkKey(key))
	if err != nil {
		t.Fatal(err)
	}
	var w watermark
	if err := json.Unmarshal(raw, &w); err != nil {
		t.Fatal(err)
	}
	switch st.compare(w.hrs) {
	case 1:
		t.Errorf("local state at %s is past the shared watermark at %s", st.hrs, w.hrs)
	case 0:
		if string(st.SignBytes) != string(w.SignBytes) {
			t.Errorf("local state and shared watermark at %s hold different bytes", st.hrs)
		}
	}
}

// TestRemoteSignerCommits: a node with priv_validator_laddr set signs
// through ServeSigner, which dials it (before the node listens, so it
// retries) and serves a Signer.
func TestRemoteSignerCommits(t *testing.T) {
	keys, store := certstest.NewKeyProvider(), certstest.NewStore()
	hc, rpc := signerNode(t, keys)
	conf, err := InitHome(hc)
	if err != nil {
		t.Fatal(err)
	}
	conf.P2P.PexReactor = false
	conf.PrivValidatorListenAddr = "tcp://" + freeAddr(t)
	logs := newLogBuffer(t)
	logger, err := NewZerolog(logs, LogFormatJSON, "info")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(SignerConfig{
		StateFile: filepath.Join(t.TempDir(), "state.json"), KeyName: "val", Store: store,
		Height: func() int64 { return height(context.Background(), rpc) },
	}, keys, logger)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	signerDone := make(chan error, 1)
	go func() { signerDone <- ServeSigner(ctx, conf.PrivValidatorListenAddr, hc.ChainID, s, logger) }()
	time.Sleep(300 * time.Millisecond) // let it fail a dial or two first

	n, err := NewNode(ctx, conf, kvstore.NewInMemoryApplication(), logger)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	// Cleanups run last first: the node stops (and ctx is cancelled), then
	// the signer must have returned.
	t.Cleanup(func() {
		select {
		case err := <-signerDone:
			if err != nil {
				t.Errorf("ServeSigner: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("remote signer did not stop")
		}
	})
	runNodeForTest(t, ctx, cancel, func() error { return Run(ctx, n) })
	waitFor(t, 30*time.Second, "height 3 signed remotely", func() bool { return height(ctx, rpc) >= 3 })
	if keys.Signs() == 0 {
		t.Fatal("the key provider never signed: the node did not use the remote signer")
	}
}

func TestServeSignerRefusesBadAddress(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:26659", "http://127.0.0.1:26659", ""} {
		err := ServeSigner(t.Context(), addr, "c", nil, zerolog.Nop())
		if err == nil || !strings.Contains(err.Error(), "priv_validator_laddr") {
			t.Errorf("address %q: got %v, want an error naming priv_validator_laddr", addr, err)
		}
	}
}

// TestNodeFollowsKeyRotation: a new key version scheduled from the height
// at which the validator set takes its public key signs from that height
// on, and CometBFT, asking GetPubKey after each commit, votes as the new
// validator at once (a wrong key at the switch would stall the chain: the
// new key holds almost all the power).
func TestNodeFollowsKeyRotation(t *testing.T) {
	keys, store := certstest.NewKeyProvider(), certstest.NewStore()
	hc, rpc := signerNode(t, keys)
	hc.TimeoutCommit = time.Second // room to schedule between the commit and height+2
	conf, err := InitHome(hc)
	if err != nil {
		t.Fatal(err)
	}
	conf.P2P.PexReactor = false
	logs := newLogBuffer(t)
	logger, err := NewZerolog(logs, LogFormatJSON, "info")
	if err != nil {
		t.Fatal(err)
	}
	m := NopSignerMetrics()
	s, err := NewSigner(SignerConfig{StateFile: filepath.Join(hc.Home, "data", "signer.json"), KeyName: "val", Store: store, Metrics: m}, keys, logger)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n, err := NewNodeWithSigner(ctx, conf, kvstore.NewInMemoryApplication(), s, logger)
	if err != nil {
		t.Fatal(err)
	}
	runNodeForTest(t, ctx, cancel, func() error { return Run(ctx, n) })
	waitFor(t, 30*time.Second, "height 2", func() bool { return height(ctx, rpc) >= 2 })

	v2 := keys.Rotate()
	pub2 := keys.PrivKey(v2).PubKey()
	tx := fmt.Sprintf("val=%s!%s!100", pub2.Type(), base64.StdEncoding.EncodeToString(pub2.Bytes()))
	res, err := rpc.BroadcastTxCommit(ctx, cmttypes.Tx(tx))
	if err != nil || res.TxResult.Code != 0 {
		t.Fatalf("validator update: %v %+v", err, res)
	}
	from := res.Height + 2 // CometBFT applies an update two heights later
	if err := ScheduleKeyVersion(ctx, store, "val", v2, from); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, fmt.Sprintf("height %d", from+2), func() bool { return height(ctx, rpc) >= from+2 })

	commit, err := rpc.Commit(ctx, &from)
	if err != nil {
		t.Fatal(err)
	}
	var signedBy2 bool
	for _, sig := range commit.Commit.Signatures {
		if bytes.Equal(sig.ValidatorAddress, pub2.Address()) && sig.BlockIDFlag == cmttypes.BlockIDFlagCommit {
			signedBy2 = true
		}
	}
	if !signedBy2 {
		t.Errorf("the commit of height %d lacks the new key version's signature", from)
	}
	if got := testutil.ToFloat64(m.KeyVersion); got != float64(v2) {
		t.Errorf("key version metric %v, want %d", got, v2)
	}
	if pub, err := s.GetPubKey(); err != nil || !pub.Equals(pub2) {
		t.Errorf("GetPubKey after the switch: %v, %v; want version %d", pub, err, v2)
	}
}

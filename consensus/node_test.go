package consensus

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/abci/example/kvstore"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/rs/zerolog"
)

func TestNodeCommitsTx(t *testing.T) {
	hc := testHomeConfig(t)
	hc.AppState = json.RawMessage(`{}`)
	conf, err := InitHome(hc)
	if err != nil {
		t.Fatalf("InitHome: %v", err)
	}
	// CometBFT's node does not wait for the PEX address book's final save
	// when it stops, so that write can land in config/ after Run returns and
	// break the temp folder's removal. A lone validator needs no PEX.
	conf.P2P.PexReactor = false
	logs := newLogBuffer(t)
	logger, err := NewZerolog(logs, LogFormatJSON, "info")
	if err != nil {
		t.Fatalf("NewZerolog: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n, err := NewNode(ctx, conf, kvstore.NewInMemoryApplication(), logger)
	if err != nil {
		t.Fatalf("NewNode: %v", err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- Run(ctx, n) }()

	client, err := rpchttp.New(hc.RPCListen, "/websocket")
	if err != nil {
		t.Fatalf("rpc client: %v", err)
	}
	waitFor(t, 30*time.Second, "the first block", func() bool {
		st, err := client.Status(ctx)
		return err == nil && st.SyncInfo.LatestBlockHeight > 0
	})

	res, err := client.BroadcastTxCommit(ctx, cmttypes.Tx("k=v"))
	if err != nil {
		t.Fatalf("BroadcastTxCommit: %v", err)
	}
	if res.CheckTx.Code != 0 || res.TxResult.Code != 0 || res.Height <= 0 {
		t.Fatalf("got check code %d, tx code %d, height %d; want 0, 0, > 0",
			res.CheckTx.Code, res.TxResult.Code, res.Height)
	}
	q, err := client.ABCIQuery(ctx, "", []byte("k"))
	if err != nil {
		t.Fatalf("ABCIQuery: %v", err)
	}
	if string(q.Response.Value) != "v" {
		t.Errorf("got k=%q, want v", q.Response.Value)
	}

	metrics := httpGet(t, "http://"+hc.PrometheusListen+"/metrics")
	if !strings.Contains(metrics, "cometbft_consensus_height") {
		t.Errorf("metrics lack cometbft_consensus_height")
	}
	if !strings.Contains(logs.String(), `"module":"consensus"`) {
		t.Errorf("no CometBFT consensus logs went through zerolog")
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
}

func TestNewNodeNeedsValidatorKey(t *testing.T) {
	tests := []struct {
		name string
		edit func(t *testing.T, file string)
	}{
		{"missing", func(t *testing.T, file string) {
			if err := os.Remove(file); err != nil {
				t.Fatal(err)
			}
		}},
		{"corrupt", func(t *testing.T, file string) {
			if err := os.WriteFile(file, []byte("{"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf, err := InitHome(testHomeConfig(t))
			if err != nil {
				t.Fatalf("InitHome: %v", err)
			}
			tt.edit(t, conf.PrivValidatorKeyFile())
			// privval.LoadFilePV would exit the test binary here.
			_, err = NewNode(context.Background(), conf, kvstore.NewInMemoryApplication(), zerolog.Nop())
			if err == nil || !strings.Contains(err.Error(), "validator key") {
				t.Fatalf("got error %v, want a validator key error", err)
			}
		})
	}
}

func httpGet(t *testing.T, url string) string {
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
	return string(body)
}

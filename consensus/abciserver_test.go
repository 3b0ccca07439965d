package consensus

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	abcicli "github.com/cometbft/cometbft/abci/client"
	"github.com/cometbft/cometbft/abci/example/kvstore"
	cmtabci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/version"
	"github.com/rs/zerolog"
)

func TestServeABCI(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- ServeABCI(ctx, "tcp://"+addr, kvstore.NewInMemoryApplication(), zerolog.Nop()) }()
	waitFor(t, 10*time.Second, "the abci server to listen", func() bool {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
		}
		return err == nil
	})

	client := abcicli.NewSocketClient("tcp://"+addr, true)
	if err := client.Start(); err != nil {
		t.Fatalf("start abci client: %v", err)
	}
	t.Cleanup(func() { _ = client.Stop() })

	echo, err := client.Echo(ctx, "hello")
	if err != nil {
		t.Fatalf("Echo: %v", err)
	}
	if echo.Message != "hello" {
		t.Errorf("got echo %q, want hello", echo.Message)
	}
	info, err := client.Info(ctx, &cmtabci.RequestInfo{})
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if info.Version != version.ABCIVersion || info.LastBlockHeight != 0 {
		t.Errorf("got version %q height %d, want %q and 0", info.Version, info.LastBlockHeight, version.ABCIVersion)
	}

	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("ServeABCI: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeABCI did not return within 10s of cancel")
	}
}

func TestServeABCIPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	err = ServeABCI(context.Background(), "tcp://"+ln.Addr().String(), kvstore.NewInMemoryApplication(), zerolog.Nop())
	if err == nil || !strings.Contains(err.Error(), "serve abci") {
		t.Fatalf("got error %v, want a serve abci error", err)
	}
}

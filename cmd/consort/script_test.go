package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the test binary act as the consort command inside scripts:
// `exec consort ...` runs main() in a child process.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"consort": main})
}

// TestScripts runs the CLI scenarios in testdata/script. Each script gets its
// own work folder and free loopback ports in $RPC_PORT, $P2P_PORT and
// $METRICS_PORT; $DEAD_PORT is a port nothing listens on.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			names := []string{"RPC_PORT", "P2P_PORT", "METRICS_PORT", "DEAD_PORT"}
			ports, err := listenFreePorts(len(names))
			if err != nil {
				return err
			}
			for i, name := range names {
				env.Setenv(name, strconv.Itoa(ports[i]))
			}
			// Keep any real ~/.consort and $CONSORT_HOME out of the scripts.
			env.Setenv("CONSORT_HOME", filepath.Join(env.WorkDir, "default-home"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitrpc": cmdWaitRPC,
			"mode":    cmdMode,
			"envjson": cmdEnvJSON,
		},
	})
}

// cmdWaitRPC: waitrpc [MIN_HEIGHT] polls http://127.0.0.1:$RPC_PORT/status
// until the latest block height is at least MIN_HEIGHT (default 1), for at
// most 60 seconds.
func cmdWaitRPC(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) > 1 {
		ts.Fatalf("usage: waitrpc [MIN_HEIGHT]")
	}
	min := int64(1)
	if len(args) == 1 {
		v, err := strconv.ParseInt(args[0], 10, 64)
		ts.Check(err)
		min = v
	}
	url := fmt.Sprintf("http://127.0.0.1:%s/status", ts.Getenv("RPC_PORT"))
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		h, err := statusHeight(hc, url)
		if err == nil && h >= min {
			ts.Logf("height %d", h)
			return
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("height %d", h)
		}
		time.Sleep(100 * time.Millisecond)
	}
	ts.Fatalf("%s: no height >= %d within 60s (last: %s)", url, min, last)
}

func statusHeight(hc *http.Client, url string) (int64, error) {
	resp, err := hc.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var st struct {
		Result struct {
			SyncInfo struct {
				LatestBlockHeight string `json:"latest_block_height"`
			} `json:"sync_info"`
		} `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return 0, err
	}
	return strconv.ParseInt(st.Result.SyncInfo.LatestBlockHeight, 10, 64)
}

// cmdMode: [!] mode FILE PERM checks a file's permission bits, e.g.
// mode keyring/alice.json 0600.
func cmdMode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: mode FILE PERM")
	}
	want, err := strconv.ParseUint(args[1], 8, 32)
	ts.Check(err)
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	got := fi.Mode().Perm()
	if (got == os.FileMode(want)) == neg {
		ts.Fatalf("%s: mode %04o, want %s%04o", args[0], got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

// cmdEnvJSON: envjson NAME FIELD sets $NAME to the top-level FIELD of the
// JSON object the last command printed on stdout.
func cmdEnvJSON(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: envjson NAME FIELD")
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(ts.ReadFile("stdout"))))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		ts.Fatalf("stdout is not a JSON object: %v", err)
	}
	v, ok := obj[args[1]]
	if !ok {
		ts.Fatalf("stdout has no field %q", args[1])
	}
	ts.Setenv(args[0], fmt.Sprint(v))
}

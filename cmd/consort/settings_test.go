package main

import (
	"io"
	"strings"
	"testing"

	cmtcfg "github.com/cometbft/cometbft/config"

	"github.com/consort-ledger/consort/abci"
	"github.com/consort-ledger/consort/consensus"
	"github.com/consort-ledger/consort/settings"
)

// TestSettingsDefaultsMatchAdapters keeps the documented app defaults equal
// to those of the packages they configure.
func TestSettingsDefaultsMatchAdapters(t *testing.T) {
	d := settings.DefaultConfig()
	if got, want := (abci.RateLimit{Rate: d.Mempool.RateLimit, Burst: d.Mempool.RateBurst}), abci.DefaultRateLimit(); got != want {
		t.Errorf("settings mempool defaults %+v, want abci's %+v", got, want)
	}
	// Every level and format Validate accepts must work for the logger.
	for _, level := range []string{"debug", "info", "warn", "error"} {
		for _, format := range []string{consensus.LogFormatJSON, consensus.LogFormatConsole} {
			c := settings.DefaultConfig()
			c.Log = settings.Log{Level: level, Format: format}
			if err := c.Validate(); err != nil {
				t.Errorf("Validate(%s, %s): %v", level, format, err)
			}
			if _, err := consensus.NewZerolog(io.Discard, format, level); err != nil {
				t.Errorf("NewZerolog(%s, %s): %v", format, level, err)
			}
		}
	}
}

// TestSettingFlagsAreSettings checks that every flag start maps to a
// setting exists on start and names a real key.
func TestSettingFlagsAreSettings(t *testing.T) {
	cmd := newStartCmd(&globals{stdout: io.Discard, stderr: io.Discard})
	for _, sf := range settingFlags() {
		fl := cmd.Flags().Lookup(sf.flag)
		if fl == nil {
			t.Errorf("start has no --%s", sf.flag)
			continue
		}
		c := settings.DefaultConfig()
		if err := c.Set(sf.key, fl.DefValue, "--"+sf.flag); err != nil {
			t.Errorf("--%s default %q does not set %s: %v", sf.flag, fl.DefValue, sf.key, err)
		}
	}
}

func TestApplyMetricsSettings(t *testing.T) {
	home := t.TempDir()
	homeConf := func() *cmtcfg.Config {
		conf := cmtcfg.DefaultConfig()
		conf.Instrumentation.Prometheus = true
		conf.Instrumentation.PrometheusListenAddr = "0.0.0.0:26660"
		return conf
	}

	// metrics.listen, when set, replaces the home's address
	conf, cfg := homeConf(), settings.DefaultConfig()
	cfg.Metrics.Listen = "127.0.0.1:9100"
	if err := applyMetricsSettings(conf, &cfg, home); err != nil {
		t.Fatal(err)
	}
	if got := conf.Instrumentation.PrometheusListenAddr; got != "127.0.0.1:9100" {
		t.Errorf("prometheus_listen_addr %q, want 127.0.0.1:9100", got)
	}

	// unset, the home's address stays and is judged: a warning here...
	conf, cfg = homeConf(), settings.DefaultConfig()
	if err := applyMetricsSettings(conf, &cfg, home); err != nil {
		t.Fatal(err)
	}
	if got := conf.Instrumentation.PrometheusListenAddr; got != "0.0.0.0:26660" {
		t.Errorf("prometheus_listen_addr %q, want the home's 0.0.0.0:26660", got)
	}
	w := strings.Join(cfg.Warnings(), "\n")
	if !strings.Contains(w, `metrics.listen "0.0.0.0:26660" binds every interface`) || !strings.Contains(w, "(from instrumentation.prometheus_listen_addr in ") {
		t.Errorf("warnings %q, want the home's public metrics address named", w)
	}

	// ...and an error on mainnet
	conf, cfg = homeConf(), settings.DefaultConfig()
	cfg.Profile = settings.ProfileMainnet
	err := applyMetricsSettings(conf, &cfg, home)
	if err == nil || !strings.Contains(err.Error(), `config: metrics.listen "0.0.0.0:26660" binds every interface`) {
		t.Errorf("got %v, want the home's public metrics address refused on mainnet", err)
	}
}

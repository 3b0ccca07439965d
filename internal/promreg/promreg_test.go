package promreg

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestRegisterSharesAndReports(t *testing.T) {
	reg := prometheus.NewRegistry()
	newCounter := func() prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "x_total", Help: "x"})
	}
	r := New(reg)
	first := Register(r, newCounter())
	second := Register(r, newCounter())
	if first != second || r.Err() != nil {
		t.Fatalf("a second registration of x_total was not shared: %v", r.Err())
	}
	// Another type under the same name is an error, not a silent share.
	Register(r, prometheus.NewGauge(prometheus.GaugeOpts{Name: "x_total", Help: "x"}))
	if r.Err() == nil {
		t.Fatal("a gauge registered under a counter's name gave no error")
	}
}

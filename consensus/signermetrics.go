package consensus

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/consort-ledger/consort/internal/promreg"
)

// Reasons, the "reason" label of consort_signer_errors_total: what failed
// while no signature was given out.
const (
	SignerErrorKey      = "key"      // the key provider (Vault transit) did not sign or give a public key
	SignerErrorStore    = "store"    // the shared store (Vault KV) did not answer for the watermark or schedule
	SignerErrorState    = "state"    // the local sign state could not be written
	SignerErrorRequest  = "request"  // the request itself is malformed (unknown vote type, stray extension)
	SignerErrorSchedule = "schedule" // no key version is scheduled for the height
)

// Reasons, the "reason" label of consort_signer_refusals_total: requests
// refused because signing could be a double sign.
const (
	RefusalRegression       = "regression"        // before the local last-sign state
	RefusalConflict         = "conflict"          // same position as the local state, other data
	RefusalSharedRegression = "shared_regression" // the shared watermark is past the request
	RefusalSharedConflict   = "shared_conflict"   // another signer signed other data at this position
)

// SignerMetrics are what the validator signer measures. Build them with
// SignerPrometheusMetrics to export them, or NopSignerMetrics.
type SignerMetrics struct {
	// SignDuration is the time one vote or proposal request takes, refusals
	// and errors included: consort_signer_sign_seconds.
	SignDuration prometheus.Histogram
	// Errors counts requests that failed without a signature, by what
	// failed: consort_signer_errors_total{reason}.
	Errors *prometheus.CounterVec
	// Refusals counts requests refused as possible double signs:
	// consort_signer_refusals_total{reason}.
	Refusals *prometheus.CounterVec
	// LastSignedHeight is the height of the last signature given out:
	// consort_signer_last_signed_height.
	LastSignedHeight prometheus.Gauge
	// KeyVersion is the key version of the last signature given out:
	// consort_signer_key_version.
	KeyVersion prometheus.Gauge
}

// SignerPrometheusMetrics returns signer metrics registered with reg. A
// collector reg already holds (a second signer in one process, tests) is
// shared, not an error.
func SignerPrometheusMetrics(reg prometheus.Registerer) (*SignerMetrics, error) {
	m := NopSignerMetrics()
	r := promreg.New(reg)
	m.SignDuration = promreg.Register(r, m.SignDuration)
	m.Errors = promreg.Register(r, m.Errors)
	m.Refusals = promreg.Register(r, m.Refusals)
	m.LastSignedHeight = promreg.Register(r, m.LastSignedHeight)
	m.KeyVersion = promreg.Register(r, m.KeyVersion)
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("register signer metrics: %w", err)
	}
	return m, nil
}

// NopSignerMetrics returns metrics no registry exports.
func NopSignerMetrics() *SignerMetrics {
	const ns, sub = "consort", "signer"
	return &SignerMetrics{
		// 1ms to ~8s: a local key signs in µs, Vault over a network in ms,
		// a Vault that hangs until the request timeout in seconds.
		SignDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "sign_seconds",
			Help: "Time one vote or proposal signing request takes, refusals and errors included.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "errors_total",
			Help: "Signing requests that failed without a signature, by what failed (key, store, state, request, schedule)."}, []string{"reason"}),
		Refusals: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "refusals_total",
			Help: "Signing requests refused because they could be a double sign, by reason (regression, conflict, shared_regression, shared_conflict)."}, []string{"reason"}),
		LastSignedHeight: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "last_signed_height",
			Help: "Height of the last vote or proposal this signer signed."}),
		KeyVersion: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "key_version",
			Help: "Key version of the last signature this signer gave out."}),
	}
}

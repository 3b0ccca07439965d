// Package promreg registers Prometheus collectors so that a second set of
// the same metrics in one process (a second node or signer, tests) shares
// the collectors already registered instead of failing.
package promreg

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Registrar registers collectors with one registry and collects the errors.
type Registrar struct {
	reg  prometheus.Registerer
	errs []error
}

// New returns a Registrar for reg.
func New(reg prometheus.Registerer) *Registrar { return &Registrar{reg: reg} }

// Register registers c and returns the collector to use: c, or the one reg
// already holds under that name. Any other failure is kept for Err and c
// is returned unregistered.
func Register[T prometheus.Collector](r *Registrar, c T) T {
	err := r.reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if got, ok := are.ExistingCollector.(T); ok {
			return got
		}
		err = fmt.Errorf("%w (as a %T, not a %T)", err, are.ExistingCollector, c)
	}
	r.errs = append(r.errs, err)
	return c
}

// Err joins every registration failure.
func (r *Registrar) Err() error { return errors.Join(r.errs...) }

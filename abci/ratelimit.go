package abci

import (
	"sync"
	"time"
)

// RateLimit bounds how fast one account may put transactions into this
// node's mempool: a token bucket per account, refilled at Rate per second up
// to Burst. It is node-local and used only by CheckTx, never by block
// execution, so it cannot make validators disagree.
type RateLimit struct {
	// Rate is the sustained number of transactions per second per account.
	// Default 100; 0 disables rate limiting.
	Rate float64
	// Burst is how many transactions an idle account may send at once. Default 200.
	Burst float64
}

// DefaultRateLimit returns the defaults stated in RateLimit.
func DefaultRateLimit() RateLimit { return RateLimit{Rate: 100, Burst: 200} }

// maxBuckets bounds memory: past it, full buckets are forgotten (a full
// bucket and a missing one behave alike).
const maxBuckets = 100_000

type bucket struct {
	tokens float64
	last   time.Time
}

// limiter is a set of token buckets keyed by account.
type limiter struct {
	cfg RateLimit
	now func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

func newLimiter(cfg RateLimit, now func() time.Time) *limiter {
	return &limiter{cfg: cfg, now: now, buckets: map[string]*bucket{}}
}

// allow takes one token from account's bucket, or reports that it is empty.
func (l *limiter) allow(account string) bool {
	if l.cfg.Rate <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[account]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.forgetFull(now)
		}
		b = &bucket{tokens: l.cfg.Burst, last: now}
		l.buckets[account] = b
	}
	b.tokens = min(l.cfg.Burst, b.tokens+now.Sub(b.last).Seconds()*l.cfg.Rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (l *limiter) forgetFull(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.cfg.Rate >= l.cfg.Burst {
			delete(l.buckets, k)
		}
	}
}

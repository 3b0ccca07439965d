package abci

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { return now }
	l := newLimiter(RateLimit{Rate: 2, Burst: 3}, clock)

	for i := 0; i < 3; i++ {
		if !l.allow("alice") {
			t.Fatalf("burst tx %d refused, want allowed", i)
		}
	}
	if l.allow("alice") {
		t.Fatal("4th tx within the burst window allowed, want refused")
	}
	if !l.allow("bob") {
		t.Fatal("bob refused because of alice, want independent buckets")
	}
	now = now.Add(500 * time.Millisecond) // one token at 2/s
	if !l.allow("alice") {
		t.Fatal("tx after refill refused, want allowed")
	}
	if l.allow("alice") {
		t.Fatal("second tx after a one-token refill allowed, want refused")
	}
	now = now.Add(time.Hour) // refill caps at the burst
	for i := 0; i < 3; i++ {
		if !l.allow("alice") {
			t.Fatalf("tx %d after long idle refused", i)
		}
	}
	if l.allow("alice") {
		t.Fatal("idle time banked beyond the burst, want capped")
	}
}

func TestLimiterDisabled(t *testing.T) {
	l := newLimiter(RateLimit{}, time.Now)
	for i := 0; i < 1000; i++ {
		if !l.allow("alice") {
			t.Fatal("rate 0 limited, want disabled")
		}
	}
}

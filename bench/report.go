package bench

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
)

// Report is what one run measured, from the chain.
type Report struct {
	App         string  `json:"app"`
	Nodes       string  `json:"nodes"`
	Transport   string  `json:"transport"`
	Broadcast   string  `json:"broadcast"`
	Connections int     `json:"connections"`
	TargetRate  float64 `json:"target_rate"` // 0: as fast as accepted
	DurationS   float64 `json:"duration_s"`

	Sent         int64             `json:"sent"`
	SentRate     float64           `json:"sent_per_s"`
	TxBytes      float64           `json:"tx_bytes_mean"`
	Committed    int64             `json:"committed"` // of ours, code 0
	Dropped      int               `json:"dropped"`   // accepted, never seen in a block
	Rejected     int64             `json:"rejected"`
	RejectedBy   map[string]int64  `json:"rejected_by,omitempty"`
	RejectSample map[string]string `json:"reject_sample,omitempty"`

	// Blocks committed while the load ran; the rate is every transaction
	// in them over the header-time span from the block before the load.
	StartHeight   int64   `json:"start_height"`
	EndHeight     int64   `json:"end_height"`
	Blocks        int     `json:"blocks"`
	WindowTxs     int64   `json:"window_txs"`
	SpanS         float64 `json:"block_time_span_s"`
	CommittedRate float64 `json:"committed_tx_per_s"`

	LatencyMs       Stats `json:"latency_ms"`
	BlockIntervalMs Stats `json:"block_interval_ms"`
	BlockTxs        Stats `json:"block_txs"`
	BlockBytes      Stats `json:"block_bytes"`
}

// Stats summarise a distribution.
type Stats struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
}

func summarize(v []float64) Stats {
	if len(v) == 0 {
		return Stats{}
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	var sum float64
	for _, x := range s {
		sum += x
	}
	q := func(p float64) float64 { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return Stats{N: len(s), Mean: sum / float64(len(s)), P50: q(0.50), P90: q(0.90), P99: q(0.99), Max: s[len(s)-1]}
}

// recorder accumulates a run's measurements; run.mu guards it.
type recorder struct {
	base       *block // the last block before the load
	lastHeight int64
	loadEnd    time.Time

	window       []*block // blocks seen before the load ended
	latencies    []float64
	rejected     map[string]int64
	rejectSample map[string]string
	rejectedN    int64
}

func (r *recorder) start(base *block) {
	r.base, r.lastHeight = base, base.height
	r.rejected, r.rejectSample = map[string]int64{}, map[string]string{}
}

func (r *recorder) loadEnded(t time.Time) { r.loadEnd = t }

func (r *recorder) block(b *block, _ int) {
	r.lastHeight = b.height
	if r.loadEnd.IsZero() || !b.seen.After(r.loadEnd) {
		r.window = append(r.window, b)
	}
}

func (r *recorder) latency(d time.Duration) {
	r.latencies = append(r.latencies, float64(d.Microseconds())/1000)
}

func (r *recorder) reject(reason, log string) {
	r.rejectedN++
	r.rejected[reason]++
	if _, ok := r.rejectSample[reason]; !ok && log != "" {
		r.rejectSample[reason] = log
	}
}

// runningRate is the committed rate so far, for progress.
func (r *recorder) runningRate() float64 {
	if len(r.window) == 0 {
		return 0
	}
	var n int
	for _, b := range r.window {
		n += len(b.txHashes)
	}
	span := r.window[len(r.window)-1].time.Sub(r.base.time).Seconds()
	if span <= 0 {
		return 0
	}
	return float64(n) / span
}

func (r *run) report(elapsed time.Duration) *Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := &r.rec
	rep := &Report{
		App: r.wl.Name(), Nodes: strings.Join(r.cfg.Nodes, ","), Transport: r.cfg.Transport, Broadcast: r.cfg.Broadcast,
		Connections: r.cfg.Connections, TargetRate: r.cfg.Rate, DurationS: elapsed.Seconds(),
		Sent: r.sent.Load(), Committed: r.committed.Load(), Rejected: rec.rejectedN,
		StartHeight: rec.base.height, EndHeight: rec.base.height, Blocks: len(rec.window),
	}
	if elapsed > 0 {
		rep.SentRate = float64(rep.Sent) / elapsed.Seconds()
	}
	if rep.Sent > 0 {
		rep.TxBytes = float64(r.sentBytes.Load()) / float64(rep.Sent)
	}
	if len(rec.rejected) > 0 {
		rep.RejectedBy, rep.RejectSample = rec.rejected, rec.rejectSample
	}
	for _, p := range r.pending {
		if p.accepted {
			rep.Dropped++
		}
	}
	var intervals, txs, sizes []float64
	prev := rec.base
	for _, b := range rec.window {
		rep.WindowTxs += int64(len(b.txHashes))
		intervals = append(intervals, float64(b.time.Sub(prev.time).Microseconds())/1000)
		txs = append(txs, float64(len(b.txHashes)))
		sizes = append(sizes, float64(b.bytes))
		prev = b
	}
	if len(rec.window) > 0 {
		last := rec.window[len(rec.window)-1]
		rep.EndHeight = last.height
		rep.SpanS = last.time.Sub(rec.base.time).Seconds()
		if rep.SpanS > 0 {
			rep.CommittedRate = float64(rep.WindowTxs) / rep.SpanS
		}
	}
	rep.LatencyMs = summarize(rec.latencies)
	rep.BlockIntervalMs = summarize(intervals)
	rep.BlockTxs = summarize(txs)
	rep.BlockBytes = summarize(sizes)
	return rep
}

// WriteText prints the report as a table.
func (rep *Report) WriteText(w io.Writer) {
	rate := "as fast as accepted"
	if rep.TargetRate > 0 {
		rate = fmt.Sprintf("%.0f tx/s", rep.TargetRate)
	}
	fmt.Fprintf(w, "app %s, %s, %s broadcast_tx_%s x %d connections, target %s, %.1fs\n",
		rep.App, rep.Nodes, rep.Transport, rep.Broadcast, rep.Connections, rate, rep.DurationS)
	row := func(k, v string) { fmt.Fprintf(w, "  %-22s %s\n", k, v) }
	row("committed tx/s", fmt.Sprintf("%.1f  (%d txs in blocks %d..%d over %.2fs of block time)", rep.CommittedRate, rep.WindowTxs, rep.StartHeight+1, rep.EndHeight, rep.SpanS))
	row("sent", fmt.Sprintf("%d (%.1f/s, %.0f bytes each)", rep.Sent, rep.SentRate, rep.TxBytes))
	row("committed (ours)", fmt.Sprintf("%d", rep.Committed))
	row("rejected", fmt.Sprintf("%d", rep.Rejected))
	keys := make([]string, 0, len(rep.RejectedBy))
	for k := range rep.RejectedBy {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		row("  "+k, fmt.Sprintf("%d  %s", rep.RejectedBy[k], rep.RejectSample[k]))
	}
	row("dropped", fmt.Sprintf("%d (accepted, not committed after the drain)", rep.Dropped))
	l := rep.LatencyMs
	row("latency ms", fmt.Sprintf("p50 %.0f  p90 %.0f  p99 %.0f  max %.0f  (n=%d)", l.P50, l.P90, l.P99, l.Max, l.N))
	bi := rep.BlockIntervalMs
	row("block interval ms", fmt.Sprintf("mean %.0f  p50 %.0f  max %.0f  (%d blocks)", bi.Mean, bi.P50, bi.Max, rep.Blocks))
	row("block txs", fmt.Sprintf("mean %.0f  max %.0f", rep.BlockTxs.Mean, rep.BlockTxs.Max))
	row("block bytes", fmt.Sprintf("mean %.0f  max %.0f", rep.BlockBytes.Mean, rep.BlockBytes.Max))
}

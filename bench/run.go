package bench

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/consort-ledger/consort/app"
)

// Config says how to load the nodes.
type Config struct {
	// Nodes are the RPC addresses connections go to, in turn; blocks are
	// read from the first. Default http://127.0.0.1:26657.
	Nodes []string
	// Transport is TransportHTTP or TransportWS. Default TransportHTTP.
	Transport string
	// Broadcast is BroadcastSync or BroadcastAsync. Default BroadcastSync.
	Broadcast string
	// Connections is how many connections send at once. Default 8.
	Connections int
	// Rate is the target of transactions per second over all connections;
	// 0 sends as fast as the nodes accept them. Default 0.
	Rate float64
	// Duration is how long the load runs. Default 20s.
	Duration time.Duration
	// Drain bounds how long, after the load stops, the harness waits for
	// accepted transactions to be committed. Default 15s.
	Drain time.Duration
	// Progress receives a one-line progress report each second; nil for none.
	Progress io.Writer
}

// DefaultConfig returns the defaults stated in Config.
func DefaultConfig() Config {
	return Config{Nodes: []string{"http://127.0.0.1:26657"}, Transport: TransportHTTP, Broadcast: BroadcastSync,
		Connections: 8, Duration: 20 * time.Second, Drain: 15 * time.Second}
}

// Validate fills in defaults and checks the settings.
func (c *Config) Validate() error {
	d := DefaultConfig()
	if len(c.Nodes) == 0 {
		c.Nodes = d.Nodes
	}
	if c.Transport == "" {
		c.Transport = d.Transport
	}
	if c.Broadcast == "" {
		c.Broadcast = d.Broadcast
	}
	if c.Connections == 0 {
		c.Connections = d.Connections
	}
	if c.Duration == 0 {
		c.Duration = d.Duration
	}
	if c.Drain == 0 {
		c.Drain = d.Drain
	}
	switch {
	case c.Transport != TransportHTTP && c.Transport != TransportWS:
		return fmt.Errorf("transport %q: want %s or %s", c.Transport, TransportHTTP, TransportWS)
	case c.Broadcast != BroadcastSync && c.Broadcast != BroadcastAsync:
		return fmt.Errorf("broadcast %q: want %s or %s", c.Broadcast, BroadcastSync, BroadcastAsync)
	case c.Connections < 1:
		return fmt.Errorf("connections %d: want at least 1", c.Connections)
	case c.Rate < 0:
		return fmt.Errorf("rate %g: want 0 (as fast as accepted) or more", c.Rate)
	case c.Duration < time.Second:
		return fmt.Errorf("duration %v: want at least 1s", c.Duration)
	case c.Drain < 0:
		return fmt.Errorf("drain %v: must not be negative", c.Drain)
	}
	return nil
}

// pending is a submitted transaction not yet seen in a block.
type pending struct {
	sent     time.Time
	token    any
	accepted bool // the node answered code 0 (or async)
}

// run is the state of one Run.
type run struct {
	cfg Config
	wl  Workload

	mu      sync.Mutex
	pending map[[32]byte]*pending
	rec     recorder

	sent      atomic.Int64
	sentBytes atomic.Int64
	committed atomic.Int64
	backoff   atomic.Int64 // unix nanos before which senders pause (full mempool)
}

// Run loads the nodes with wl for cfg.Duration and reports what the chain
// committed.
func Run(ctx context.Context, cfg Config, wl Workload) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, wl: wl, pending: map[[32]byte]*pending{}}
	chain := newChainReader(cfg.Nodes[0])
	startHeight, err := chain.committedHeight(ctx)
	if err != nil {
		return nil, err
	}
	if startHeight < 1 {
		return nil, fmt.Errorf("node %s has committed no block yet; wait for the first", cfg.Nodes[0])
	}
	base, err := chain.block(ctx, startHeight)
	if err != nil {
		return nil, err
	}
	senders := make([]sender, cfg.Connections)
	for i := range senders {
		node := cfg.Nodes[i%len(cfg.Nodes)]
		if cfg.Transport == TransportWS {
			s, err := newWSSender(ctx, node, cfg.Broadcast)
			if err != nil {
				for _, s := range senders[:i] {
					s.close()
				}
				return nil, err
			}
			senders[i] = s
		} else {
			senders[i] = newHTTPSender(node, cfg.Broadcast)
		}
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	blocks := make(chan *block, 64)
	watchErr := make(chan error, 1)
	go chain.watch(watchCtx, startHeight, blocks, watchErr)

	start := time.Now()
	loadCtx, stopLoad := context.WithDeadline(ctx, start.Add(cfg.Duration))
	defer stopLoad()
	var wg sync.WaitGroup
	for i, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.send(loadCtx, s, i)
		}()
	}
	loadDone := make(chan struct{})
	go func() { wg.Wait(); close(loadDone) }()

	r.rec.start(base)
	progress := time.NewTicker(time.Second)
	defer progress.Stop()
	var end time.Time
	var drainTimer <-chan time.Time
	var runErr error
loop:
	for {
		select {
		case b, ok := <-blocks:
			if !ok {
				break loop
			}
			r.observe(b, end)
			if !end.IsZero() && r.inFlight() == 0 {
				break loop
			}
		case <-loadDone:
			loadDone = nil
			end = time.Now()
			r.rec.loadEnded(end)
			if r.inFlight() == 0 {
				break loop
			}
			drainTimer = time.After(cfg.Drain)
		case <-drainTimer:
			break loop
		case err := <-watchErr:
			runErr = err
			break loop
		case <-progress.C:
			if cfg.Progress != nil {
				r.printProgress(cfg.Progress, start)
			}
		case <-ctx.Done():
			runErr = ctx.Err()
			break loop
		}
	}
	stopLoad()
	stopWatch()
	if loadDone != nil {
		<-loadDone
		end = time.Now()
	}
	for _, s := range senders {
		s.close()
	}
	if cfg.Progress != nil {
		fmt.Fprint(cfg.Progress, "\r\033[K")
	}
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return nil, runErr
	}
	rep := r.report(end.Sub(start))
	return rep, nil
}

// send is one connection's loop: pace, make a transaction, submit it.
func (r *run) send(ctx context.Context, s sender, conn int) {
	var interval time.Duration
	if r.cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(r.cfg.Connections) / r.cfg.Rate)
	}
	next := time.Now().Add(time.Duration(conn) * interval / time.Duration(r.cfg.Connections))
	for ctx.Err() == nil {
		if interval > 0 {
			if d := time.Until(next); d > 0 {
				if !sleep(ctx, d) {
					return
				}
			}
			next = next.Add(interval)
			if behind := time.Since(next); behind > time.Second {
				next = time.Now() // do not burst to catch up after a stall
			}
		}
		if until := time.Until(time.Unix(0, r.backoff.Load())); until > 0 {
			if !sleep(ctx, until) {
				return
			}
		}
		tx, token, err := r.wl.Next(ctx)
		if err != nil {
			return
		}
		hash := sha256.Sum256(tx)
		p := &pending{sent: time.Now(), token: token, accepted: r.cfg.Broadcast == BroadcastAsync}
		r.mu.Lock()
		r.pending[hash] = p
		r.mu.Unlock()
		r.sent.Add(1)
		r.sentBytes.Add(int64(len(tx)))
		err = s.send(ctx, tx, func(res response) { r.answered(hash, res) })
		if err != nil && ctx.Err() != nil {
			r.forget(hash) // the load ended during the send
			return
		}
		if err != nil {
			r.answered(hash, response{rpcError: "send: " + err.Error()})
			if ctx.Err() == nil {
				sleep(ctx, 100*time.Millisecond)
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// mempoolFullPause is how long senders pause when a node's mempool is full:
// spinning on refusals would take CPU from the node being measured.
const mempoolFullPause = 20 * time.Millisecond

// answered handles a node's answer to a broadcast.
func (r *run) answered(hash [32]byte, res response) {
	r.mu.Lock()
	p, ok := r.pending[hash]
	if !ok { // already seen in a block
		r.mu.Unlock()
		return
	}
	if res.rpcError == "" && res.code == 0 {
		p.accepted = true
		r.mu.Unlock()
		return
	}
	delete(r.pending, hash)
	var reason string
	outcome := Rejected
	switch {
	case res.rpcError != "":
		reason = "rpc: " + rpcErrorKind(res.rpcError)
		outcome = Refused
		if strings.Contains(res.rpcError, "mempool is full") {
			r.backoff.Store(time.Now().Add(mempoolFullPause).UnixNano())
		}
	default:
		reason = fmt.Sprintf("checktx code %d", res.code)
		if res.code == rateLimitedCode {
			outcome = Refused
		}
	}
	r.rec.reject(reason, res.log)
	r.mu.Unlock()
	r.wl.Outcome(p.token, outcome)
}

// rateLimitedCode is consort's CheckTx code for an account over its
// mempool rate: the same coin may be sent again.
const rateLimitedCode = uint32(app.CodeRateLimited)

// rpcErrorKind shortens an RPC error to a stable category.
func rpcErrorKind(msg string) string {
	for _, kind := range []string{"mempool is full", "tx already exists in cache", "connection lost", "send:"} {
		if strings.Contains(msg, kind) {
			return strings.TrimSuffix(kind, ":")
		}
	}
	if len(msg) > 60 {
		msg = msg[:60]
	}
	return msg
}

// observe records a committed block and settles its transactions.
func (r *run) observe(b *block, loadEnd time.Time) {
	type settled struct {
		token   any
		outcome Outcome
	}
	var done []settled
	r.mu.Lock()
	ours := 0
	for i, h := range b.txHashes {
		p, ok := r.pending[h]
		if !ok {
			continue
		}
		delete(r.pending, h)
		ours++
		o := Committed
		if b.codes[i] != 0 {
			o = RejectedInBlock
			r.rec.reject(fmt.Sprintf("block code %d", b.codes[i]), "")
		} else {
			r.committed.Add(1)
			r.rec.latency(b.seen.Sub(p.sent))
		}
		done = append(done, settled{p.token, o})
	}
	r.rec.block(b, ours)
	r.mu.Unlock()
	for _, d := range done {
		r.wl.Outcome(d.token, d.outcome)
	}
}

// forget drops a transaction whose submission was cut short by the end of
// the load: it was never counted by the node, and its coin is not reused.
func (r *run) forget(hash [32]byte) {
	r.mu.Lock()
	delete(r.pending, hash)
	r.mu.Unlock()
	r.sent.Add(-1)
}

// inFlight counts accepted transactions not yet in a block.
func (r *run) inFlight() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, p := range r.pending {
		if p.accepted {
			n++
		}
	}
	return n
}

func (r *run) printProgress(w io.Writer, start time.Time) {
	el := time.Since(start).Truncate(time.Second)
	r.mu.Lock()
	height, rate := r.rec.lastHeight, r.rec.runningRate()
	r.mu.Unlock()
	fmt.Fprintf(w, "\r\033[K%s %v/%v  sent %d  committed %d  %.0f tx/s  height %d",
		bar(el, r.cfg.Duration), el, r.cfg.Duration, r.sent.Load(), r.committed.Load(), rate, height)
}

func bar(done, total time.Duration) string {
	const width = 20
	n := min(width, int(float64(width)*float64(done)/float64(total)))
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

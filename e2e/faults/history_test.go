package faults

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// timeline records what the nemesis did, in order.
type timeline struct {
	mu     sync.Mutex
	start  time.Time
	events []nemesisEvent
}

// nemesisEvent is one step of a fault: injected, healed, or an observation.
type nemesisEvent struct {
	At     string `json:"at"` // since the start of the run
	Fault  string `json:"fault"`
	Step   string `json:"step"`
	Detail string `json:"detail,omitempty"`
}

func newTimeline() *timeline { return &timeline{start: time.Now()} }

func (tl *timeline) add(fault, step, format string, args ...any) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.events = append(tl.events, nemesisEvent{At: time.Since(tl.start).Round(time.Millisecond).String(), Fault: fault, Step: step, Detail: fmt.Sprintf(format, args...)})
}

func (tl *timeline) snapshot() []nemesisEvent {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return append([]nemesisEvent(nil), tl.events...)
}

// opRecord is one transaction the workload sent and what the node answered.
type opRecord struct {
	Seq      int      `json:"seq"`
	Worker   int      `json:"worker"`
	Kind     string   `json:"kind"`           // transfer, conflict
	Pair     int      `json:"pair,omitempty"` // conflict pairs share a number
	TxID     string   `json:"txid"`
	From     string   `json:"from"`
	To       string   `json:"to"`
	Amount   uint64   `json:"amount"`
	Inputs   []string `json:"inputs"`
	Node     string   `json:"node"`
	SentAt   string   `json:"sent_at"`
	Took     string   `json:"took"`
	Code     uint32   `json:"code"`
	Height   int64    `json:"height"`
	Log      string   `json:"log,omitempty"`
	Err      string   `json:"error,omitempty"`
	Acked    bool     `json:"acked"` // the node said: committed in a block, code 0
	Rejected bool     `json:"rejected"`
}

// history is everything the client sent, shared by the workers.
type history struct {
	mu  sync.Mutex
	ops []opRecord
}

func (h *history) add(r opRecord) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r.Seq = len(h.ops)
	h.ops = append(h.ops, r)
}

func (h *history) snapshot() []opRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]opRecord(nil), h.ops...)
}

// historyFile is what a failed run leaves for diagnosis.
type historyFile struct {
	Seed       uint64            `json:"seed"`
	Duration   string            `json:"duration"`
	Violations []string          `json:"violations"`
	Nemesis    []nemesisEvent    `json:"nemesis"`
	Ops        []opRecord        `json:"ops"`
	Nodes      map[string]string `json:"node_logs"`
}

// writeHistory writes the history into dir and returns the file's path.
func writeHistory(dir string, f historyFile) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("faults-history-seed%d.json", f.Seed))
	return path, os.WriteFile(path, b, 0o644)
}

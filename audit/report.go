package audit

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Severity ranks a finding. High and critical findings make the audit fail.
type Severity string

// The severities, least serious first.
const (
	Low      Severity = "low"
	Medium   Severity = "medium"
	High     Severity = "high"
	Critical Severity = "critical"
)

// severities lists the severities, most serious first.
var severities = []Severity{Critical, High, Medium, Low}

func (s Severity) rank() int { return len(severities) - slices.Index(severities, s) }

// Severe reports whether s is high or critical.
func (s Severity) Severe() bool { return s.rank() >= High.rank() }

// The finding types: stable names that scripts may match on.
const (
	// The stored blocks and their links.
	TypeBlockUnreadable = "block_unreadable"          // a block is missing or does not decode
	TypeBlockHeader     = "block_header_invalid"      // wrong chain id, or a header field that fails validation
	TypeBlockDataHash   = "block_data_hash_mismatch"  // the header's data hash is not the hash of the block's transactions
	TypeBlockID         = "block_id_mismatch"         // the block's body does not make the parts the validators signed
	TypeBlockLink       = "block_link_broken"         // the next block (or the commit) names another header
	TypeLastCommitHash  = "last_commit_hash_mismatch" // the stored last commit is not the one the header commits to
	TypeBlockTime       = "block_time_not_increasing"

	// Commits and validator sets.
	TypeCommitMissing    = "commit_missing"
	TypeCommitInvalid    = "commit_invalid"             // the signatures do not prove +2/3 of the validators signed the block
	TypeValidatorSet     = "validator_set_mismatch"     // a header's validator hashes or proposer disagree with the derived sets
	TypeValidatorUpdates = "validator_updates_mismatch" // the recorded updates differ from the replay's, or do not apply

	// Execution: the replay against the headers and the recorded results.
	TypeAppHash              = "app_hash_mismatch"         // a header's app hash differs from the replay's
	TypeResultsHash          = "results_hash_mismatch"     // the recorded results do not hash to the next header's LastResultsHash
	TypeRecordedResults      = "recorded_results_mismatch" // the recorded FinalizeBlock response disagrees with the replay
	TypeResultsMissing       = "results_missing"           // heights without recorded results
	TypeTxAcceptedButInvalid = "tx_accepted_but_invalid"   // the chain accepted a transaction the rules reject
	TypeTxRejectedButValid   = "tx_rejected_but_valid"     // the chain rejected a transaction the rules accept
	TypeTxCodeMismatch       = "tx_code_mismatch"          // rejected by both, for different reasons
	TypeReplayHalted         = "replay_halted"             // the ledger cannot execute a block
	TypeHistoryIncomplete    = "history_incomplete"        // blocks from genesis are missing (pruned)

	// The ledger's invariants on the replayed state.
	TypeDoubleSpend = "double_spend"        // a coin (or coinless transaction) used twice by successful transactions
	TypeSupply      = "supply_mismatch"     // supply differs from the coins, or from genesis + minted - burned
	TypeBalance     = "balance_mismatch"    // a balance differs from the sum of the owner's coins
	TypeCoinIndex   = "coin_index_mismatch" // a coin and the owner index disagree, or a coin's owner or asset is unknown

	// The node's own ledger state (HOME/data/app).
	TypeLocalStateDiverges   = "local_state_diverges"    // a key's value differs from the replay's
	TypeLocalAppHash         = "local_app_hash_mismatch" // the root hash differs from the replay's
	TypeLocalStateHeight     = "local_state_height"      // the state is not at the block store's height
	TypeLocalStateUnreadable = "local_state_unreadable"
)

// Finding is one problem the audit found.
type Finding struct {
	// Type is one of the Type constants.
	Type     string   `json:"type"`
	Severity Severity `json:"severity"`
	// Height is the block the finding is about; 0 for the chain as a whole.
	Height int64 `json:"height"`
	// TxID is the transaction the finding is about, if any.
	TxID string `json:"txid,omitempty"`
	// Key is the state key the finding is about, if any, in readable form.
	Key string `json:"key,omitempty"`
	// Description says in plain words what is wrong.
	Description string `json:"description"`
}

// AssetSupply is one asset's supply after the last height, in base units.
type AssetSupply struct {
	Asset  string `json:"asset"`
	Supply uint64 `json:"supply"`
	Coins  int    `json:"coins"`
}

// Summary says what the audit checked.
type Summary struct {
	ChainID string `json:"chain_id"`
	// Source names where the history came from: "home DIR" or "node URL".
	Source      string `json:"source"`
	FirstHeight int64  `json:"first_height"`
	LastHeight  int64  `json:"last_height"`
	// Heights is the number of blocks replayed and checked.
	Heights     int64 `json:"heights"`
	Txs         int64 `json:"txs"`
	TxsAccepted int64 `json:"txs_accepted"`
	TxsRejected int64 `json:"txs_rejected"`
	// Signatures is TxSignatures + CommitSignatures.
	Signatures int64 `json:"signatures"`
	// TxSignatures counts the signatures of the transactions the replay
	// accepted, each verified again.
	TxSignatures int64 `json:"tx_signatures"`
	// CommitSignatures counts the validator signatures verified in commits.
	CommitSignatures int64         `json:"commit_signatures"`
	ValidatorUpdates int64         `json:"validator_updates"`
	Accounts         int           `json:"accounts"`
	Coins            int           `json:"utxos"`
	Assets           []AssetSupply `json:"assets"`
	// AppHash is the replay's app hash after LastHeight, in hex.
	AppHash string `json:"app_hash"`
	// LocalState says whether and where the node's own state was compared.
	LocalState string `json:"local_state"`
	// BySeverity counts the findings (suppressed ones included).
	BySeverity map[Severity]int `json:"by_severity"`
}

// Report is the outcome of an audit.
type Report struct {
	// Findings lists what is wrong, in the order found; empty on a healthy chain.
	Findings []Finding `json:"findings"`
	// Suppressed counts, per type, findings beyond Config.MaxFindingsPerType
	// that are not listed.
	Suppressed      map[string]int `json:"suppressed,omitempty"`
	Summary         Summary        `json:"summary"`
	Recommendations []string       `json:"recommendations"`
}

// Severe counts the high and critical findings, suppressed ones included.
func (r *Report) Severe() int { return r.Summary.BySeverity[Critical] + r.Summary.BySeverity[High] }

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) {
	s := r.Summary
	fmt.Fprintf(w, "audit of chain %s (%s)\n", s.ChainID, s.Source)
	if s.Heights > 0 {
		fmt.Fprintf(w, "checked:  heights %d-%d (%d blocks), %d txs (%d accepted, %d rejected)\n", s.FirstHeight, s.LastHeight, s.Heights, s.Txs, s.TxsAccepted, s.TxsRejected)
	} else {
		fmt.Fprintf(w, "checked:  no blocks\n")
	}
	fmt.Fprintf(w, "          %d signatures (%d on transactions, %d validator signatures on commits), %d validator updates\n", s.Signatures, s.TxSignatures, s.CommitSignatures, s.ValidatorUpdates)
	fmt.Fprintf(w, "state:    %d accounts, %d coins", s.Accounts, s.Coins)
	for _, a := range s.Assets {
		fmt.Fprintf(w, ", %s supply %d", a.Asset, a.Supply)
	}
	fmt.Fprintf(w, "\napp hash: %s\nlocal:    %s\n\n", s.AppHash, s.LocalState)
	total := 0
	for _, n := range s.BySeverity {
		total += n
	}
	if total == 0 {
		fmt.Fprintf(w, "findings: none\n")
	} else {
		var parts []string
		for _, sev := range severities {
			if n := s.BySeverity[sev]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, sev))
			}
		}
		fmt.Fprintf(w, "findings: %d (%s)\n", total, strings.Join(parts, ", "))
		for _, f := range r.Findings {
			where := "chain"
			if f.Height > 0 {
				where = fmt.Sprintf("height %d", f.Height)
			}
			fmt.Fprintf(w, "  %-8s  %s  %s", strings.ToUpper(string(f.Severity)), f.Type, where)
			if f.TxID != "" {
				fmt.Fprintf(w, "  tx %s", f.TxID)
			}
			if f.Key != "" {
				fmt.Fprintf(w, "  key %s", f.Key)
			}
			fmt.Fprintf(w, "\n            %s\n", f.Description)
		}
		types := make([]string, 0, len(r.Suppressed))
		for t := range r.Suppressed {
			types = append(types, t)
		}
		slices.Sort(types)
		for _, t := range types {
			fmt.Fprintf(w, "  ... and %d more %s findings not listed\n", r.Suppressed[t], t)
		}
	}
	fmt.Fprintf(w, "\nrecommendations:\n")
	for _, rec := range r.Recommendations {
		fmt.Fprintf(w, "  - %s\n", rec)
	}
}

// findings collects findings, listing at most max of each type.
type findings struct {
	max        int
	list       []Finding
	suppressed map[string]int
	bySeverity map[Severity]int
	byType     map[string]int
}

func newFindings(max int) *findings {
	return &findings{max: max, list: []Finding{}, suppressed: map[string]int{},
		bySeverity: map[Severity]int{Critical: 0, High: 0, Medium: 0, Low: 0}, byType: map[string]int{}}
}

func (fs *findings) add(f Finding) {
	fs.bySeverity[f.Severity]++
	fs.byType[f.Type]++
	if fs.byType[f.Type] > fs.max {
		fs.suppressed[f.Type]++
		return
	}
	fs.list = append(fs.list, f)
}

func (fs *findings) addf(typ string, sev Severity, height int64, format string, args ...any) {
	fs.add(Finding{Type: typ, Severity: sev, Height: height, Description: fmt.Sprintf(format, args...)})
}

func (fs *findings) has(types ...string) bool {
	for _, t := range types {
		if fs.byType[t] > 0 {
			return true
		}
	}
	return false
}

// recommendations turns the kinds of findings into advice, most urgent first.
func (fs *findings) recommendations() []string {
	var out []string
	add := func(cond bool, text string) {
		if cond {
			out = append(out, text)
		}
	}
	add(fs.has(TypeTxAcceptedButInvalid, TypeTxRejectedButValid, TypeAppHash, TypeValidatorUpdates) && !fs.has(TypeBlockDataHash, TypeBlockID, TypeResultsHash),
		"The chain's recorded results disagree with the ledger rules on intact blocks: validators ran different ledger code or configuration. Halt governance changes, compare the consort version of every validator, and investigate every transaction listed before trusting balances.")
	add(fs.has(TypeBlockDataHash, TypeBlockID, TypeBlockLink, TypeLastCommitHash, TypeBlockUnreadable),
		"Blocks in this copy of the history do not match what the validators signed: the block store was altered or damaged after commit. Treat this node as compromised: restore its data from a healthy validator (or resync it from genesis with block sync), and find out who could write to its data folder.")
	add(fs.has(TypeCommitInvalid, TypeCommitMissing, TypeValidatorSet),
		"Commit signatures or validator sets do not verify: either the history was forged or the validator set diverged. Cross-check the affected heights against other validators (consort audit --node URL for each) before relying on them.")
	add(fs.has(TypeDoubleSpend, TypeSupply, TypeBalance, TypeCoinIndex),
		"Coins were spent twice or supply is not conserved: freeze the assets involved (consort tx pause --asset X), reconcile the listed coins with the organisations that hold them, and fix the ledger code before resuming.")
	add(fs.has(TypeLocalStateDiverges, TypeLocalAppHash),
		"This node's ledger state (HOME/data/app) differs from what its own blocks produce: the state database was edited or corrupted. Stop the node, keep the folder as evidence, move it aside and let the node rebuild its state by replaying the blocks from genesis.")
	add(fs.has(TypeLocalStateHeight),
		"The node's ledger state is not at the height of its block store; see the finding: a state ahead of the blocks will not start and must be rebuilt, one behind is replayed on start.")
	add(fs.has(TypeResultsHash, TypeRecordedResults),
		"The node's recorded block results (HOME/data/state.db) disagree with the headers or the replay: results served by its RPC (block_results, tx search) cannot be trusted until the node is resynced.")
	add(fs.has(TypeResultsMissing),
		"Some heights have no recorded results (storage.discard_abci_responses = true, or a crash before they were saved); transaction codes there were checked only through the app hash. Keep results if audits should compare codes.")
	add(fs.has(TypeHistoryIncomplete, TypeReplayHalted),
		"The replay could not cover the whole history; audit a node that keeps every block from genesis (no pruning) to check the rest.")
	add(fs.has(TypeBlockTime),
		"Block times do not increase at the listed heights: check the validators' clocks and the block header times.")
	if len(out) == 0 {
		out = append(out, "No problems found. Audit regularly (for example nightly, with --node against each validator), keep every block from genesis so the whole history can be replayed, and keep validators' data folders writable only by the node.")
	}
	return out
}

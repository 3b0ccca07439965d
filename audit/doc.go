// Package audit re-verifies a consort chain from genesis and reports what it
// finds.
//
// Run replays every block's transactions with the ledger (package app) on a
// fresh state in a temporary folder and compares, height by height, what the
// replay computes with what the chain recorded:
//
//   - each transaction's result code: one the chain accepted and the replay
//     rejects (or the reverse) means validators did not apply the rules, or
//     the stored block was altered;
//   - the app hash after each block with the next header's app hash, and the
//     recorded FinalizeBlock results (app hash, validator updates, results
//     hash in the next header);
//   - block integrity: the header's data hash against the transactions, the
//     block id against the next block's link and the commit, the last-commit
//     hash, the chain of LastBlockIDs;
//   - the commit of every block against the validator set of its height,
//     which the audit derives itself from genesis and the validator updates
//     the replay produces (applied two heights later, as CometBFT does), and
//     the header's validator hashes against it;
//   - that no coin was spent twice by transactions the chain recorded as
//     successful, and supply conservation per asset on the replayed state
//     (asset supply = genesis + minted - burned = the sum of its coins; the
//     balance and owner indexes agree with the coins);
//   - optionally, a node's own ledger state (HOME/data/app) against the
//     replay, key by key, which also finds values edited below the tree's
//     hashes.
//
// The history comes from a Source: a stopped node's home (OpenHome, reading
// the CometBFT block and state stores read-only) or a node's RPC (NewRPC).
// Findings carry a type, a height, a txid where one applies, a severity and
// a plain description; the Report adds recommendations.
package audit

// Package app is consort's deterministic state machine: the transaction
// format and its encoding, the account, asset and UTXO stores on an IAVL
// tree, the rules a transfer must pass, genesis, and the read-only queries.
//
// Nothing here may depend on wall-clock time, randomness, map iteration
// order, goroutine scheduling or node-local configuration: every validator
// must reach the same result from the same blocks. The package therefore
// imports no CometBFT node code, no network, no metrics and no logger; the
// abci package adapts it to CometBFT.
package app

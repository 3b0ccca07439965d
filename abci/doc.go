// Package abci adapts the ledger in package app to CometBFT's ABCI++: it maps
// each request onto app, turns app results into ABCI responses, and holds the
// concerns that belong to one node's mempool only (the set of inputs that
// pending transactions already spend). Nothing here changes what a block
// does: FinalizeBlock results come from app alone.
package abci

// Package e2e holds end-to-end tests: a real CometBFT node (node.NewNode)
// running the consort ledger in-process on loopback, driven only through the
// CometBFT RPC, as a client in any language would drive it.
package e2e

// Package bench is the load generator behind `consort bench`: it sends
// signed, non-conflicting transactions to CometBFT nodes over their RPC
// (HTTP or websocket, broadcast_tx_sync or _async) from several connections,
// at a target rate or as fast as the nodes accept them, and measures the
// result from the chain itself — committed transactions per second over the
// block-time span, submit-to-commit latency, rejections by code, block
// interval and size.
//
// Two workloads share the harness: consort transfers (Consort, which first
// registers and funds its own accounts) and the stock CometBFT kvstore
// application's key=value transactions of the same size (KVStore), the
// ceiling any application on this engine and this machine can reach.
package bench

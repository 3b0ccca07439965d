// Package faults is the fault-injection suite: four real `consort start`
// processes under a transfer workload while a nemesis kills, freezes,
// partitions, truncates, skews and doubles validators, then a checker of
// the ledger's invariants. See docs/reliability.md. The package has only
// tests; it is separate from package e2e so that `go test ./...` runs the
// two side by side.
package faults

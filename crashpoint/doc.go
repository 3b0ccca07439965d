// Package crashpoint kills the process at a named step of block execution,
// for crash-consistency tests of a real node.
//
// A test starts `consort start` with CONSORT_CRASH_AT=POINT[@HEIGHT]; the
// node SIGKILLs itself the first time it reaches POINT (at or after block
// HEIGHT, when given). Without the variable every Hit is a no-op. The points
// lie between FinalizeBlock and the end of Commit, where a crash leaves the
// block store, the state store and the app store at different heights.
package crashpoint

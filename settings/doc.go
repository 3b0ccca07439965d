// Package settings loads and checks consort's node-local app configuration:
// logging, the metrics listener, mempool rate limits, the validator signer
// and its Vault connection.
//
// The settings come, lowest precedence first, from the built-in defaults
// (DefaultConfig), the base tables of a TOML file (HOME/config/consort.toml,
// documented by the repository's config.toml), the file's table for the
// selected profile ([profile.local], [profile.testnet], [profile.mainnet]),
// environment variables (CONSORT_*, one per setting, named by the Env
// constants) and finally command-line flags, which the command applies with
// Config.Set. Load does the first four; Validate then judges the result and
// names the key of every bad or unsafe value.
//
// CometBFT's own settings stay in HOME/config/config.toml; this package
// never reads or writes that file.
package settings

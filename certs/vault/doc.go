// Package vault is consort's client of HashiCorp Vault: the transit engine
// holds signing keys (validator keys through certs.KeyProvider, account keys
// through keyring.Signer) and KV v2 holds small check-and-set records
// (certs.VersionedStore).
//
// Timeouts are short on purpose. A validator signs a vote within CometBFT's
// privval timeouts (a few seconds); the Vault client library's defaults (a
// 60 s timeout, retries a second apart) would outlast them. Each call here is
// bounded by Config.Timeout as a whole, retries included, so a Vault that
// does not answer gives ErrUnreachable within that time.
//
// Errors say which Vault path failed and why, sorted by the sentinels
// ErrUnreachable, ErrPermissionDenied and ErrNotFound (errors.Is); they never
// carry a token or an AppRole SecretID, and neither does the log.
//
// Authentication is by token (Config.Token, else the file Config.TokenFile)
// or by AppRole (Config.RoleID with the file Config.SecretIDFile), whose token
// is renewed in the background and replaced by a fresh login when renewal
// fails or the token reaches its maximum TTL. Files holding a token or a
// SecretID must not be readable by group or others.
//
// TLS is configured as for the Vault CLI, by VAULT_CACERT, VAULT_CAPATH,
// VAULT_CLIENT_CERT, VAULT_CLIENT_KEY and VAULT_TLS_SERVER_NAME; the address,
// credentials, timeout and retries come from Config only (VAULT_TOKEN,
// VAULT_AGENT_ADDR, VAULT_CLIENT_TIMEOUT and VAULT_MAX_RETRIES are not read
// behind the caller's back; ConfigFromEnv reads VAULT_ADDR and VAULT_TOKEN
// when asked).
//
// Signing is gated by key version: TransitKey.Sign names the version
// explicitly and checks the version Vault reports. The transit engine refuses
// to sign with a version below the key's min_encryption_version (its sign
// handler checks that setting, not min_decryption_version), so
// SetMinEncryptionVersion retires old versions after a rotation; their public
// keys stay readable for verification.
package vault

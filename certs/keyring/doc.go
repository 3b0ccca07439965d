// Package keyring keeps the account keys of a node home on disk and signs
// with them.
//
// A Keyring is rooted at one directory (created 0700) and holds one JSON file
// per key, <dir>/<name>.json, written 0600 and atomically:
//
//	{"name": "alice", "type": "ed25519", "public_key": "<base64>", "private_key": "<base64>"}
//
// A key held by Vault (AddVault) has a file too, with its public key and
// where it lives, and no private key:
//
//	{"name": "carol", "type": "p256", "public_key": "<base64>", "backend": "vault",
//	 "vault": {"mount": "transit", "key": "carol", "version": 1}}
//
// Show and List describe it (Info.Backend, Info.Vault); Signer refuses it
// with ErrExternal, and the caller signs through Vault (certs/vault).
//
// Like ssh, the keyring refuses to load a key file that group or others may
// access; the error names the file and the fix (chmod 600).
//
// Key names follow the ledger's account names: 1–64 characters of lowercase
// letters, digits, '.' and '-', starting with a letter or digit.
//
// Two key types are supported, with the byte conventions of the ledger's
// signature module (they must not drift):
//
//   - "ed25519": 32-byte public key; 64-byte signature made by CometBFT's
//     crypto/ed25519 over the message verbatim. The private key is stored as
//     CometBFT's 64-byte form (seed followed by public key).
//   - "p256": ECDSA over NIST P-256; 33-byte SEC 1 compressed public key;
//     64-byte signature r‖s (32 bytes each, big-endian) over sha256(msg),
//     with s normalised to low-S (s ≤ n/2). The private key is stored as the
//     32-byte big-endian scalar.
//
// Signing goes through the small Signer interface, so that keys held
// elsewhere (a Vault transit backend) can stand in for file keys. Verify is
// the reference verifier for both types.
//
// Private key material is never logged or printed: the values this package
// returns format (with any fmt verb) as their public key only.
package keyring

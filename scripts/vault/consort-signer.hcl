# consort-signer: what the signer of validator __KEY__ may do, and nothing
# more. setup.sh writes it as policy "consort-signer-__KEY__" with __KEY__
# replaced by the validator's transit key name.
#
# It may sign with its own key and read that key (public keys, versions,
# min_encryption_version). It may NOT rotate the key, change its config,
# export it, delete it, or touch any other validator's key.

path "transit/sign/__KEY__" {
  capabilities = ["update"]
}

path "transit/keys/__KEY__" {
  capabilities = ["read"]
}

# Its double-sign watermark and the key schedule (check-and-set writes).
path "secret/data/consort/validators/__KEY__/*" {
  capabilities = ["create", "read", "update"]
}

# Looking up, renewing and revoking its own token come from Vault's built-in
# "default" policy, which AppRole tokens carry.

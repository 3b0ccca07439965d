# consort-operator: what the operator of validator __KEY__ may do. setup.sh
# writes it as policy "consort-operator-__KEY__". Everything the signer may
# do, and also rotate the key, set its config (min_encryption_version retires
# old versions) and write the key schedule. It cannot delete or export the
# key, nor touch another validator's.

path "transit/sign/__KEY__" {
  capabilities = ["update"]
}

path "transit/keys/__KEY__" {
  capabilities = ["read"]
}

path "transit/keys/__KEY__/rotate" {
  capabilities = ["update"]
}

path "transit/keys/__KEY__/config" {
  capabilities = ["update"]
}

path "secret/data/consort/validators/__KEY__/*" {
  capabilities = ["create", "read", "update"]
}

path "secret/metadata/consort/validators/__KEY__/*" {
  capabilities = ["read", "list"]
}

# consort-account: a client that signs transactions with account key __KEY__
# held in transit. setup.sh writes it as policy "consort-account-__KEY__"
# (setup.sh --account NAME). It may sign with that key and read its public
# key, nothing else.

path "transit/sign/__KEY__" {
  capabilities = ["update"]
}

path "transit/keys/__KEY__" {
  capabilities = ["read"]
}

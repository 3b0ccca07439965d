package app

import (
	"fmt"
	"reflect"
	"testing"
)

// An account decodes to what was encoded whatever the number of keys and
// grants (one of each comes in the account's own allocation), with nil
// lists when it has none, and a decoded account shares nothing with
// another decoding of the same bytes.
func TestDecodeAccountListSizes(t *testing.T) {
	for nKeys := 0; nKeys <= 3; nKeys++ {
		for nGrants := 0; nGrants <= 3; nGrants++ {
			want := &Account{Name: "acct", Organization: "org", Threshold: uint32(nKeys), Status: StatusFrozen}
			for i := range nKeys {
				want.Keys = append(want.Keys, AccountKey{KeyType: KeyEd25519, PublicKey: newEdKey(fmt.Sprint(i)).pub(), Weight: 1})
			}
			for i := range nGrants {
				want.Grants = append(want.Grants, Grant{Role: fmt.Sprintf("role-%d", i), ExpiresAt: int64(i)})
			}
			raw := encodeAccount(want)
			got, err := DecodeAccount(raw)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%d keys, %d grants: decoded %+v, want %+v", nKeys, nGrants, got, want)
			}
			other, _ := DecodeAccount(raw)
			other.Keys = append(other.Keys, AccountKey{KeyType: KeyP256, Weight: 9})
			other.Grants = append(other.Grants, Grant{Role: "added"})
			if nKeys > 0 {
				other.Keys[0].Weight = 7
			}
			if nGrants > 0 {
				other.Grants[0].Role = "changed"
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%d keys, %d grants: changing another decoding changed this one: %+v", nKeys, nGrants, got)
			}
		}
	}
}

package app

import (
	"slices"
	"testing"

	"github.com/consort-ledger/consort/policy"
)

func TestQueryAccessControlPaths(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		path     string
		wantCode Code
		check    func(t *testing.T, value []byte)
	}{
		{"/role/member", CodeOK, func(t *testing.T, v []byte) {
			r, err := DecodeRole(v)
			if err != nil || !slices.Contains(r.Permissions, policy.PermTransfer) {
				t.Fatalf("role member: got %+v (%v), want the transfer permission", r, err)
			}
		}},
		{"/role/wizard", CodeNotFound, nil},
		{"/validators", CodeOK, func(t *testing.T, v []byte) {
			if len(v) != 0 {
				t.Fatalf("validators of a chain started without any: got %x, want empty", v)
			}
		}},
		{"/node/" + "0123456789abcdef0123456789abcdef01234567", CodeNotFound, nil},
		{"/node/NOT-HEX", CodeInvalidField, nil},
		{"/pause/*", CodeOK, func(t *testing.T, v []byte) {
			if v != nil {
				t.Fatalf("global pause on a fresh chain: got %x, want none", v)
			}
		}},
		{"/pause/USD", CodeOK, nil},
		{"/pause/usd", CodeInvalidField, nil},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			res, err := f.app.Query(tc.path, 0, true)
			if got := CodeOf(err); got != tc.wantCode {
				t.Fatalf("got code %d (%v), want %d", got, err, tc.wantCode)
			}
			if tc.check != nil {
				tc.check(t, res.Value)
			}
			if res != nil && res.Key != nil && res.Proof == nil {
				t.Fatal("prove=true gave no proof")
			}
		})
	}
}

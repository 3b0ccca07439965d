package consensus

import (
	"strings"
	"testing"

	"github.com/cometbft/cometbft/crypto"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/consort-ledger/consort/certs/certstest"
)

func TestScheduleKeyVersion(t *testing.T) {
	ctx := t.Context()
	type call struct {
		version int
		from    int64
		wantErr string // "" for success
		signed  int64  // if set, the shared watermark moves to this height first
	}
	cases := []struct {
		name   string
		signed int64 // shared watermark height before the calls
		calls  []call
		want   KeySchedule
	}{
		{"none written is version 1 from 1", 0, nil, KeySchedule{{1, 1}}},
		{"rotate to 2", 10, []call{{2, 20, "", 0}}, KeySchedule{{1, 1}, {2, 20}}},
		{"same call twice is a no-op", 10, []call{{2, 20, "", 0}, {2, 20, "", 0}}, KeySchedule{{1, 1}, {2, 20}}},
		{"two rotations", 0, []call{{2, 20, "", 0}, {3, 30, "", 0}}, KeySchedule{{1, 1}, {2, 20}, {3, 30}}},
		{"a pending rotation moves", 10, []call{{2, 20, "", 0}, {2, 25, "", 0}}, KeySchedule{{1, 1}, {2, 25}}},
		{"a pending rotation is replaced by a later version", 10, []call{{2, 20, "", 0}, {3, 15, "", 0}}, KeySchedule{{1, 1}, {3, 15}}},
		{"a signed height cannot change version", 10, []call{{2, 10, "signed up to height 10", 0}}, KeySchedule{{1, 1}}},
		{"an active version never goes back", 0, []call{{3, 20, "", 0}, {2, 30, "versions never go back", 21}}, KeySchedule{{1, 1}, {3, 20}}},
		{"a pending version may be replaced by a lower one", 0, []call{{3, 20, "", 0}, {2, 30, "", 0}}, KeySchedule{{1, 1}, {2, 30}}},
		{"initial version before anything is signed", 0, []call{{4, 1, "", 0}}, KeySchedule{{4, 1}}},
		{"version 0", 0, []call{{0, 5, "want 1 or more", 0}}, KeySchedule{{1, 1}}},
		{"height 0", 0, []call{{2, 0, "want 1 or more", 0}}, KeySchedule{{1, 1}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			store := certstest.NewStore()
			if tc.signed > 0 {
				if err := claimWatermark(ctx, store, "v", hrs{Height: tc.signed, Step: stepPrecommit}, []byte("b")); err != nil {
					t.Fatal(err)
				}
			}
			for _, c := range tc.calls {
				if c.signed > 0 {
					if err := claimWatermark(ctx, store, "v", hrs{Height: c.signed, Step: stepPrecommit}, []byte("b")); err != nil {
						t.Fatal(err)
					}
				}
				err := ScheduleKeyVersion(ctx, store, "v", c.version, c.from)
				switch {
				case c.wantErr == "" && err != nil:
					t.Fatalf("schedule %d from %d: %v", c.version, c.from, err)
				case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
					t.Fatalf("schedule %d from %d: got %v, want an error saying %q", c.version, c.from, err, c.wantErr)
				}
			}
			got, _, err := LoadKeySchedule(ctx, store, "v", 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got schedule %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got schedule %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// TestSignerFollowsSchedule: a running signer signs each height with the
// version scheduled for it, picks up a rotation scheduled while it runs,
// and GetPubKey answers for the height after the node's.
func TestSignerFollowsSchedule(t *testing.T) {
	ctx := t.Context()
	keys, store := certstest.NewKeyProvider(), certstest.NewStore()
	v2 := keys.Rotate()
	var nodeHeight int64
	m := NopSignerMetrics()
	s := newTestSigner(t, SignerConfig{Store: store, KeyName: "v", Height: func() int64 { return nodeHeight }, Metrics: m}, keys)
	pubs := map[int]crypto.PubKey{1: keys.PrivKey(1).PubKey(), v2: keys.PrivKey(v2).PubKey()}

	signsWith := func(h int64, version int) {
		t.Helper()
		v := prevote(h, 0, 'a', 0).vote()
		if err := s.SignVote(testChainID, v); err != nil {
			t.Fatalf("height %d: %v", h, err)
		}
		if !pubs[version].VerifySignature(cmttypes.VoteSignBytes(testChainID, v), v.Signature) {
			t.Fatalf("height %d: not signed by version %d", h, version)
		}
		if got := testutil.ToFloat64(m.KeyVersion); got != float64(version) {
			t.Errorf("key version metric %v, want %d", got, version)
		}
	}
	pubKeyIs := func(version int) {
		t.Helper()
		got, err := s.GetPubKey()
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equals(pubs[version]) {
			t.Fatalf("GetPubKey at node height %d: not version %d", nodeHeight, version)
		}
	}

	pubKeyIs(1)
	signsWith(1, 1)
	nodeHeight = 1
	signsWith(2, 1)
	if err := ScheduleKeyVersion(ctx, store, "v", v2, 4); err != nil {
		t.Fatal(err)
	}
	nodeHeight = 2
	pubKeyIs(1) // next height 3: still version 1
	signsWith(3, 1)
	nodeHeight = 3
	pubKeyIs(v2) // next height 4: version 2
	signsWith(4, v2)
	signsWith(5, v2)

	// Without a height source the last signed height decides.
	s.SetHeightSource(nil)
	pubKeyIs(v2)
}

func TestSignedHeight(t *testing.T) {
	store := certstest.NewStore()
	if h, err := SignedHeight(t.Context(), store, "v"); err != nil || h != 0 {
		t.Fatalf("fresh store: got %d, %v; want 0, nil", h, err)
	}
	if err := claimWatermark(t.Context(), store, "v", hrs{Height: 7, Round: 1, Step: stepPrevote}, []byte("b")); err != nil {
		t.Fatal(err)
	}
	if h, err := SignedHeight(t.Context(), store, "v"); err != nil || h != 7 {
		t.Fatalf("got %d, %v; want 7, nil", h, err)
	}
}

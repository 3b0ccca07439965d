package app

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// The transaction decoder checks the canonical form as it reads (see
// canonReader). Before that it decoded leniently and then re-encoded the
// transaction and the body, comparing bytes. That implementation is kept
// here, verbatim but renamed, as the oracle: on every input the two must
// agree on acceptance, on the result code, and on what they decode.

func oracleDecodeTx(b []byte) (*Tx, error) {
	if len(b) == 0 {
		return nil, rejectf(ErrMalformed, "empty transaction")
	}
	tx, err := oracleDecodeTxFields(b)
	if err != nil {
		return nil, rejectf(ErrMalformed, "%v", err)
	}
	if !bytes.Equal(EncodeBody(&tx.Body), tx.BodyBytes) {
		return nil, rejectf(ErrMalformed, "body is not in canonical encoding")
	}
	if !bytes.Equal(tx.Encode(), b) {
		return nil, rejectf(ErrMalformed, "transaction is not in canonical encoding")
	}
	if len(tx.BodyBytes) == 0 {
		return nil, rejectf(ErrMalformed, "transaction has no body")
	}
	if tx.Body.Version != TxVersion {
		return nil, rejectf(ErrUnsupportedVersion, "body version %d, this node executes version %d", tx.Body.Version, TxVersion)
	}
	if n := tx.Body.messages(); n != 1 {
		return nil, rejectf(ErrMalformed, "body carries %d messages, want exactly one", n)
	}
	if !utf8.ValidString(tx.Body.Memo) {
		return nil, rejectf(ErrInvalidField, "memo is not valid UTF-8")
	}
	for i := 1; i < len(tx.Signatures); i++ {
		if compareSigners(tx.Signatures[i-1], tx.Signatures[i]) >= 0 {
			return nil, rejectf(ErrMalformed, "signatures must be ordered by key type, then public key, each key once")
		}
	}
	return tx, nil
}

func oracleDecodeTxFields(b []byte) (*Tx, error) {
	tx := &Tx{}
	err := decodeFields(b, func(d *decoder, num int) (err error) {
		switch num {
		case 1:
			tx.BodyBytes, err = d.bytes("tx.body")
			if err == nil {
				err = oracleDecodeBody(tx.BodyBytes, &tx.Body)
			}
		case 2:
			var raw []byte
			if raw, err = d.bytes("tx.signatures"); err == nil {
				var s Signature
				s, err = oracleDecodeSignature(raw)
				tx.Signatures = append(tx.Signatures, s)
			}
		case 3:
			tx.PowNonce, err = d.uint("tx.pow_nonce")
		default:
			err = unknownField("Tx", num)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return tx, nil
}

func oracleDecodeSignature(b []byte) (Signature, error) {
	var s Signature
	err := decodeFields(b, func(d *decoder, num int) (err error) {
		switch num {
		case 1:
			var v uint32
			v, err = d.uint32("signature.key_type")
			s.KeyType = KeyType(v)
		case 2:
			s.PublicKey, err = d.bytes("signature.public_key")
		case 3:
			s.Signature, err = d.bytes("signature.signature")
		default:
			err = unknownField("Signature", num)
		}
		return err
	})
	return s, err
}

func oracleDecodeBody(b []byte, body *Body) error {
	return decodeFields(b, func(d *decoder, num int) (err error) {
		switch num {
		case 1:
			body.Version, err = d.uint32("body.version")
		case 2:
			body.ChainID, err = d.string("body.chain_id")
		case 3:
			body.Memo, err = d.string("body.memo")
		case 4:
			body.Nonce, err = d.uint("body.nonce")
		case 10:
			return d.message("body.transfer", func(raw []byte) error {
				body.Transfer = &Transfer{}
				return oracleDecodeTransfer(raw, body.Transfer)
			})
		case 11:
			return d.message("body.mint", func(raw []byte) error {
				o, err := DecodeOutput(raw)
				if err != nil {
					return err
				}
				body.Mint = &Mint{To: o.Owner, Asset: o.Asset, Amount: o.Amount}
				return nil
			})
		case 12:
			return d.message("body.burn", func(raw []byte) (err error) {
				body.Burn, err = oracleDecodeBurn(raw)
				return err
			})
		default:
			action := newAction(num)
			if action == nil {
				return unknownField("TxBody", num)
			}
			if body.Action != nil {
				return fmt.Errorf("body carries two actions")
			}
			body.Action = action
			return d.message("body.action", action.decode)
		}
		return err
	})
}

func oracleDecodeTransfer(b []byte, t *Transfer) error {
	return decodeFields(b, func(d *decoder, num int) error {
		switch num {
		case 1:
			return d.message("transfer.inputs", func(raw []byte) error {
				o, err := decodeOutpoint(raw)
				t.Inputs = append(t.Inputs, o)
				return err
			})
		case 2:
			return d.message("transfer.outputs", func(raw []byte) error {
				o, err := DecodeOutput(raw)
				t.Outputs = append(t.Outputs, o)
				return err
			})
		}
		return unknownField("Transfer", num)
	})
}

func oracleDecodeBurn(b []byte) (*Burn, error) {
	m := &Burn{}
	err := decodeFields(b, func(d *decoder, num int) (err error) {
		switch num {
		case 1:
			return d.message("burn.inputs", func(raw []byte) error {
				o, err := decodeOutpoint(raw)
				m.Inputs = append(m.Inputs, o)
				return err
			})
		case 2:
			m.Asset, err = d.string("burn.asset")
		case 3:
			m.Amount, err = d.uint("burn.amount")
		default:
			err = unknownField("Burn", num)
		}
		return err
	})
	return m, err
}

// decodeAgreement counts what a differential run saw, so a test can insist
// that it exercised both verdicts and every code.
type decodeAgreement struct {
	inputs int
	codes  map[Code]int
}

// agree decodes b both ways and fails t on any difference.
func (a *decodeAgreement) agree(t *testing.T, what string, b []byte) {
	t.Helper()
	in := append([]byte(nil), b...)
	want, wantErr := oracleDecodeTx(in)
	got, gotErr := DecodeTx(in)
	if !bytes.Equal(in, b) {
		t.Fatalf("%s: a decoder changed its input", what)
	}
	a.inputs++
	wantCode, gotCode := CodeOf(wantErr), CodeOf(gotErr)
	a.codes[wantCode]++
	if wantCode != gotCode {
		t.Fatalf("%s: input %x\nold decoder: code %d (%v)\nnew decoder: code %d (%v)", what, b, wantCode, wantErr, gotCode, gotErr)
	}
	if (got == nil) != (want == nil) {
		t.Fatalf("%s: input %x: old decoder returned %v, new %v", what, b, want, got)
	}
	if want != nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: input %x\nold decoder: %+v\nnew decoder: %+v", what, b, want, got)
	}
}

// diffSeedTxs are transactions of every message kind with every body and
// signature field set somewhere, valid as encodings (what the ledger later
// makes of them does not matter here).
func diffSeedTxs(t testing.TB) [][]byte {
	t.Helper()
	ed1, ed2, p := newEdKey("diff-1"), newEdKey("diff-2"), newP256Key(t)
	var id1, id2 TxID
	for i := range id1 {
		id1[i], id2[i] = byte(i), byte(255-i)
	}
	full := func(b *Body) *Body {
		b.Version, b.ChainID = TxVersion, testChainID
		return b
	}
	bodies := []*Body{
		full(&Body{Transfer: &Transfer{Inputs: []Outpoint{{id1, 0}}, Outputs: []Output{{"bob", "USD", 1}, {"alice", "USD", 99}}}}),
		full(&Body{Memo: "invoice 42", Nonce: 7, Transfer: &Transfer{Inputs: []Outpoint{{id1, 3}, {id2, 1 << 31}}, Outputs: []Output{{"carol", "GOLD", 1 << 40}}}}),
		full(&Body{Transfer: &Transfer{}}),
		full(&Body{Transfer: &Transfer{Inputs: []Outpoint{{}}, Outputs: []Output{{}}}}),
		full(&Body{Mint: &Mint{To: "alice", Asset: "USD", Amount: 500}}),
		full(&Body{Mint: &Mint{}}),
		full(&Body{Memo: "\xff", Burn: &Burn{Inputs: []Outpoint{{id2, 2}}, Asset: "USD", Amount: 5}}),
		full(&Body{Burn: &Burn{}}),
		full(&Body{Nonce: 1, Action: &FreezeAccount{Name: "dave"}}),
		full(&Body{Nonce: 2, Action: &UnfreezeAccount{Name: "dave"}}),
		full(&Body{Action: &RevokeAll{Account: "mallory"}}),
		full(&Body{Action: &AllowNode{NodeID: "0123abcd"}}),
		full(&Body{Action: &RemoveNode{}}),
		full(&Body{Action: &Unpause{Asset: "USD"}}),
		full(&Body{Action: &RegisterAccount{Account: Account{Name: "erin", Organization: "bank-e", Keys: []AccountKey{{KeyEd25519, ed1.pub(), 1}}, Threshold: 1, Grants: []Grant{{"member", 0}, {"issuer", 900}}}}}),
		full(&Body{Action: &SetAccountKeys{Name: "erin", Keys: []AccountKey{{KeyEd25519, ed1.pub(), 1}, {KeyP256, p.pub(), 2}}, Threshold: 2}}),
		full(&Body{Action: &GrantRole{Account: "bob", Role: "issuer", ExpiresAt: 1000}}),
		full(&Body{Action: &GrantRole{Account: "bob", Role: "issuer", ExpiresAt: -1}}),
		full(&Body{Action: &RevokeRole{Account: "bob", Role: "issuer"}}),
		full(&Body{Action: &SetRole{Name: "auditor", Permissions: []string{"read", "", "audit"}}}),
		full(&Body{Action: &CreateAsset{ID: "EUR", Decimals: 2, Issuers: []Issuer{{Account: "alice", Cap: 1000}}}}),
		full(&Body{Action: &SetIssuer{Asset: "EUR", Account: "bob", Cap: 5}}),
		full(&Body{Action: &SetValidator{Name: "v1", PublicKey: ed2.pub(), Power: 10, Operator: "alice"}}),
		full(&Body{Action: &SetParams{Params: Params{MaxTxBytes: 4096, MaxInputs: 8, MaxOutputs: 8, MaxSignatures: 4, MaxMemoBytes: 64, GovernanceThreshold: 1, MinValidators: 1, Modules: []string{"pow"}, PowDifficultyBits: 3}}}),
		full(&Body{Action: &Pause{Asset: "USD", Until: 50}}),
		full(&Body{Action: &Pause{}}),
		full(&Body{Action: &RotateValidatorKey{CurrentKey: ed1.pub(), NewKey: ed2.pub(), Proof: bytes.Repeat([]byte{7}, 64)}}),
		{Version: 2, ChainID: testChainID, Transfer: &Transfer{}},
		full(&Body{}),
	}
	var txs [][]byte
	for i, b := range bodies {
		tx := &Tx{BodyBytes: EncodeBody(b)}
		switch i % 4 {
		case 0:
			tx.AddSignature(ed1.sign(t, tx.BodyBytes))
		case 1:
			tx.AddSignature(ed1.sign(t, tx.BodyBytes))
			tx.AddSignature(ed2.sign(t, tx.BodyBytes))
			tx.AddSignature(p.sign(t, tx.BodyBytes))
			tx.PowNonce = 1<<63 + 5
		case 2:
			tx.Signatures = []Signature{{}} // one empty signature
		case 3:
			tx.PowNonce = 300
		}
		txs = append(txs, tx.Encode())
	}
	return txs
}

// corpusTxs reads the committed fuzz corpora: the first argument of every
// FuzzDecodeTx and FuzzCheckTx entry.
func corpusTxs(t *testing.T) [][]byte {
	t.Helper()
	var txs [][]byte
	for _, target := range []string{"FuzzDecodeTx", "FuzzCheckTx"} {
		files, err := filepath.Glob(filepath.Join("testdata", "fuzz", target, "*"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range files {
			f, err := os.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(f)
			sc.Buffer(nil, 1<<22)
			for sc.Scan() {
				line := sc.Text()
				if !strings.HasPrefix(line, "[]byte(") {
					continue
				}
				s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(line, "[]byte("), ")"))
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				txs = append(txs, []byte(s))
				break
			}
			f.Close()
		}
	}
	if len(txs) == 0 {
		t.Fatal("no fuzz corpus found under testdata/fuzz")
	}
	return txs
}

// TestDecodeTxMatchesReencodingCheck runs both decoders over the fuzz
// corpus, the fuzz seeds, the seeds above, every byte-level mutation of
// each seed, random multi-byte mutations, and structural mutations that
// keep the message tree parseable but break one canonical rule (see
// protoVariants).
func TestDecodeTxMatchesReencodingCheck(t *testing.T) {
	fx := newFixture(t)
	a := &decodeAgreement{codes: map[Code]int{}}
	for i, b := range corpusTxs(t) {
		a.agree(t, fmt.Sprintf("corpus %d", i), b)
	}
	for i, b := range fuzzEdgeCases {
		a.agree(t, fmt.Sprintf("edge case %d", i), b)
	}
	seeds := append(fuzzSeedTxs(t, fx), diffSeedTxs(t)...)
	rng := rand.New(rand.NewPCG(1, 2))
	for si, seed := range seeds {
		a.agree(t, fmt.Sprintf("seed %d", si), seed)
		for _, m := range byteMutations(seed) {
			a.agree(t, fmt.Sprintf("seed %d byte mutation", si), m)
		}
		for range 300 {
			a.agree(t, fmt.Sprintf("seed %d random mutation", si), randomMutation(rng, seed))
		}
		for _, v := range protoVariants(seed) {
			a.agree(t, fmt.Sprintf("seed %d structural variant", si), v)
			for range 3 {
				a.agree(t, fmt.Sprintf("seed %d mutated structural variant", si), randomMutation(rng, v))
			}
		}
	}
	t.Logf("%d inputs, codes %v", a.inputs, a.codes)
	for _, c := range []Code{CodeOK, CodeMalformed, CodeUnsupportedVersion, CodeInvalidField} {
		if a.codes[c] < 5 {
			t.Errorf("code %d seen %d times: the inputs do not exercise it", c, a.codes[c])
		}
	}
}

// byteMutations: every truncation, every single byte dropped, and every
// byte replaced by a few values that flip varint and wire-type bits.
func byteMutations(b []byte) [][]byte {
	var out [][]byte
	for i := range b {
		out = append(out, b[:i])
		out = append(out, append(append([]byte(nil), b[:i]...), b[i+1:]...))
		for _, v := range []byte{0x00, 0x01, 0x80, 0xff, b[i] ^ 0x01, b[i] ^ 0x02, b[i] ^ 0x07, b[i] ^ 0x80, b[i] + 1, b[i] - 1} {
			if v == b[i] {
				continue
			}
			m := append([]byte(nil), b...)
			m[i] = v
			out = append(out, m)
		}
		for _, v := range []byte{0x00, 0x80} {
			m := append(append(append([]byte(nil), b[:i]...), v), b[i:]...)
			out = append(out, m)
		}
	}
	return out
}

func randomMutation(rng *rand.Rand, b []byte) []byte {
	m := append([]byte(nil), b...)
	for range 1 + rng.IntN(4) {
		if len(m) == 0 {
			return []byte{byte(rng.IntN(256))}
		}
		i := rng.IntN(len(m))
		switch rng.IntN(5) {
		case 0:
			m[i] = byte(rng.IntN(256))
		case 1:
			m = append(m[:i], m[i+1:]...)
		case 2:
			m = append(m[:i], append([]byte{byte(rng.IntN(256))}, m[i:]...)...)
		case 3:
			j := i + rng.IntN(len(m)-i)
			m = append(m[:j], append(append([]byte(nil), m[i:j]...), m[j:]...)...) // duplicate a range
		case 4:
			m[i] ^= 1 << rng.IntN(8)
		}
	}
	return m
}

// protoField is one field of a message parsed without a schema; a
// length-delimited field that parses as a message has sub set.
type protoField struct {
	num   uint64
	typ   uint64
	value uint64 // varint fields
	raw   []byte // length-delimited fields
	sub   []protoField
}

func parseProto(b []byte) ([]protoField, bool) {
	var fields []protoField
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 || key>>3 == 0 {
			return nil, false
		}
		b = b[n:]
		f := protoField{num: key >> 3, typ: key & 7}
		switch f.typ {
		case wireVarint:
			if f.value, n = binary.Uvarint(b); n <= 0 {
				return nil, false
			}
			b = b[n:]
		case wireBytes:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return nil, false
			}
			f.raw = b[n : n+int(l)]
			b = b[n+int(l):]
			if sub, ok := parseProto(f.raw); ok && len(f.raw) > 0 {
				f.sub = sub
			}
		default:
			return nil, false
		}
		fields = append(fields, f)
	}
	return fields, true
}

// encodeProto writes fields back; pad makes the varint of the field at
// that position (counting every field of the tree in order) one byte longer
// than minimal: pad.key, pad.length or pad.value selects which varint.
type protoPad struct {
	at                 int
	key, length, value bool
}

func encodeProto(fields []protoField, pad protoPad, pos *int) []byte {
	var out []byte
	for _, f := range fields {
		here := *pos == pad.at
		*pos++
		out = appendPadded(out, f.num<<3|f.typ, here && pad.key)
		switch f.typ {
		case wireVarint:
			out = appendPadded(out, f.value, here && pad.value)
		case wireBytes:
			body := f.raw
			if f.sub != nil {
				body = encodeProto(f.sub, pad, pos)
			}
			out = appendPadded(out, uint64(len(body)), here && pad.length)
			out = append(out, body...)
		}
	}
	return out
}

func appendPadded(b []byte, v uint64, pad bool) []byte {
	if !pad {
		return binary.AppendUvarint(b, v)
	}
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v)|0x80, 0x00)
}

func countProto(fields []protoField) int {
	n := len(fields)
	for _, f := range fields {
		n += countProto(f.sub)
	}
	return n
}

// protoVariants re-encodes a parseable message with one change each:
// a non-minimal key, length or value; at each level, a field duplicated,
// dropped, swapped with its neighbour, renumbered, or given the other wire
// type; a zero-valued varint or empty bytes field added at every field
// number the schema uses.
func protoVariants(b []byte) [][]byte {
	fields, ok := parseProto(b)
	if !ok {
		return nil
	}
	var out [][]byte
	total := countProto(fields)
	for at := range total {
		for _, pad := range []protoPad{{at: at, key: true}, {at: at, length: true}, {at: at, value: true}} {
			pos := 0
			out = append(out, encodeProto(fields, pad, &pos))
		}
	}
	var edits func(level []protoField, rebuild func([]protoField) []byte)
	edits = func(level []protoField, rebuild func([]protoField) []byte) {
		with := func(f func(l []protoField) []protoField) {
			l := append([]protoField(nil), level...)
			out = append(out, rebuild(f(l)))
		}
		for i := range level {
			with(func(l []protoField) []protoField { return append(l[:i+1], append([]protoField{l[i]}, l[i+1:]...)...) })
			with(func(l []protoField) []protoField { return append(l[:i], l[i+1:]...) })
			if i+1 < len(level) {
				with(func(l []protoField) []protoField { l[i], l[i+1] = l[i+1], l[i]; return l })
			}
			for _, num := range []uint64{level[i].num + 1, level[i].num - 1, 20, 36, 37} {
				if num == 0 {
					continue
				}
				with(func(l []protoField) []protoField { l[i].num = num; return l })
			}
			with(func(l []protoField) []protoField {
				if l[i].typ == wireBytes {
					l[i].typ, l[i].value, l[i].raw, l[i].sub = wireVarint, uint64(len(l[i].raw)), nil, nil
				} else {
					l[i].typ, l[i].raw = wireBytes, binary.AppendUvarint(nil, l[i].value)
				}
				return l
			})
		}
		for _, num := range []uint64{1, 2, 3, 4, 10, 11, 12, 20, 33, 36} {
			for _, zero := range []protoField{{num: num, typ: wireVarint}, {num: num, typ: wireBytes}} {
				for i := 0; i <= len(level); i++ {
					with(func(l []protoField) []protoField { return append(l[:i], append([]protoField{zero}, l[i:]...)...) })
				}
			}
		}
		for i := range level {
			if level[i].sub == nil {
				continue
			}
			edits(level[i].sub, func(sub []protoField) []byte {
				l := append([]protoField(nil), level...)
				l[i].sub = sub
				if len(sub) == 0 {
					l[i].sub, l[i].raw = nil, nil
				}
				return rebuild(l)
			})
		}
	}
	edits(fields, func(l []protoField) []byte {
		pos := 0
		return encodeProto(l, protoPad{at: -1}, &pos)
	})
	return out
}

// FuzzDecodeTxMatchesOracle: the one-pass decoder and the re-encoding oracle
// agree on any input (run with -fuzz to search beyond the seeds).
func FuzzDecodeTxMatchesOracle(f *testing.F) {
	fx := newFixture(f)
	for _, tx := range append(fuzzSeedTxs(f, fx), diffSeedTxs(f)...) {
		f.Add(tx)
	}
	for _, b := range fuzzEdgeCases {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a := &decodeAgreement{codes: map[Code]int{}}
		a.agree(t, "fuzz input", b)
	})
}

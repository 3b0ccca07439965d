package app

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"unicode/utf8"
)

// TxVersion is the only body version this node executes.
const TxVersion = 1

// TxID identifies a transaction: sha256 of its body bytes. Signatures are
// outside the body, so adding one never changes the id.
type TxID [32]byte

func (id TxID) String() string { return hex.EncodeToString(id[:]) }

// ParseTxID reads a txid written as 64 hex digits.
func ParseTxID(s string) (TxID, error) {
	var id TxID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("txid %q: want 64 hex digits", s)
	}
	copy(id[:], b)
	return id, nil
}

// Outpoint names one output of one transaction.
type Outpoint struct {
	TxID  TxID
	Index uint32
}

func (o Outpoint) String() string { return fmt.Sprintf("%s:%d", o.TxID, o.Index) }

// Output pays Amount base units of Asset to the account Owner. Stored as the
// value of an unspent output, it is also the UTXO record.
type Output struct {
	Owner  string
	Asset  string
	Amount uint64
}

// Transfer spends Inputs and creates Outputs; per asset both sides are equal.
type Transfer struct {
	Inputs  []Outpoint
	Outputs []Output
}

// Body is what signers sign, byte for byte as it travels. Exactly one of
// Transfer, Mint, Burn and Action is set.
type Body struct {
	Version uint32
	ChainID string
	Memo    string
	// Nonce makes otherwise identical bodies distinct (two freezes of one
	// account, a week apart); a body that spends no coin can be included
	// once only, so it needs a fresh nonce each time.
	Nonce    uint64
	Transfer *Transfer
	Mint     *Mint
	Burn     *Burn
	Action   Action
}

// messages counts how many messages the body carries.
func (b *Body) messages() int {
	n := 0
	for _, set := range []bool{b.Transfer != nil, b.Mint != nil, b.Burn != nil, b.Action != nil} {
		if set {
			n++
		}
	}
	return n
}

// Spends lists the coins the body spends, for mempool and proposal checks.
func (b *Body) Spends() []Outpoint {
	switch {
	case b.Transfer != nil:
		return b.Transfer.Inputs
	case b.Burn != nil:
		return b.Burn.Inputs
	}
	return nil
}

// KeyType names a signature scheme. The numbers are wire values.
type KeyType uint32

const (
	KeyEd25519 KeyType = 1 // 32-byte key, 64-byte signature over the body (ZIP-215 rules)
	KeyP256    KeyType = 2 // 33-byte compressed key, 64-byte r‖s over sha256(body), low-S
)

func (k KeyType) String() string {
	switch k {
	case KeyEd25519:
		return "ed25519"
	case KeyP256:
		return "p256"
	}
	return fmt.Sprintf("keytype(%d)", uint32(k))
}

// ParseKeyType reads the names used in genesis and the keyring.
func ParseKeyType(s string) (KeyType, error) {
	switch s {
	case "ed25519":
		return KeyEd25519, nil
	case "p256":
		return KeyP256, nil
	}
	return 0, fmt.Errorf("key type %q: want ed25519 or p256", s)
}

// Signature is one signer's signature over the body bytes.
type Signature struct {
	KeyType   KeyType
	PublicKey []byte
	Signature []byte
}

// Tx is a decoded transaction. BodyBytes are kept verbatim: they are what was
// signed and what the id hashes.
type Tx struct {
	BodyBytes  []byte
	Body       Body
	Signatures []Signature
	PowNonce   uint64
}

// ID returns sha256(body bytes).
func (tx *Tx) ID() TxID { return sha256.Sum256(tx.BodyBytes) }

// EncodeBody returns the canonical bytes of a body.
func EncodeBody(b *Body) []byte {
	var e encoder
	e.uint(1, uint64(b.Version))
	e.string(2, b.ChainID)
	e.string(3, b.Memo)
	e.uint(4, b.Nonce)
	switch {
	case b.Transfer != nil:
		e.message(10, true, func(e *encoder) { encodeTransfer(e, b.Transfer) })
	case b.Mint != nil:
		e.message(11, true, func(e *encoder) { encodeMint(e, b.Mint) })
	case b.Burn != nil:
		e.message(12, true, func(e *encoder) { encodeBurn(e, b.Burn) })
	case b.Action != nil:
		e.message(b.Action.fieldNum(), true, b.Action.encode)
	}
	return e.buf
}

func encodeTransfer(e *encoder, t *Transfer) {
	for _, in := range t.Inputs {
		e.message(1, true, func(e *encoder) { encodeOutpoint(e, in) })
	}
	for _, out := range t.Outputs {
		e.message(2, true, func(e *encoder) { encodeOutput(e, out) })
	}
}

func encodeOutpoint(e *encoder, o Outpoint) {
	e.bytes(1, o.TxID[:])
	e.uint(2, uint64(o.Index))
}

func encodeOutput(e *encoder, o Output) {
	e.string(1, o.Owner)
	e.string(2, o.Asset)
	e.uint(3, o.Amount)
}

// Encode returns the canonical bytes of a whole transaction.
func (tx *Tx) Encode() []byte {
	var e encoder
	e.bytes(1, tx.BodyBytes)
	for _, s := range tx.Signatures {
		e.message(2, true, func(e *encoder) {
			e.uint(1, uint64(s.KeyType))
			e.bytes(2, s.PublicKey)
			e.bytes(3, s.Signature)
		})
	}
	e.uint(3, tx.PowNonce)
	return e.buf
}

// DecodeTx parses transaction bytes strictly: unknown fields, wrong wire
// types, trailing garbage and non-canonical encodings are all rejected with
// ErrMalformed, and an unknown body version with ErrUnsupportedVersion.
func DecodeTx(b []byte) (*Tx, error) {
	if len(b) == 0 {
		return nil, rejectf(ErrMalformed, "empty transaction")
	}
	tx, err := decodeTx(b)
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
	// Nothing outside the body may be changeable by a relayer: the
	// signatures must come in one order (and the pow module refuses a
	// nonce on a chain that needs none).
	for i := 1; i < len(tx.Signatures); i++ {
		if compareSigners(tx.Signatures[i-1], tx.Signatures[i]) >= 0 {
			return nil, rejectf(ErrMalformed, "signatures must be ordered by key type, then public key, each key once")
		}
	}
	return tx, nil
}

func decodeTx(b []byte) (*Tx, error) {
	tx := &Tx{}
	err := decodeFields(b, func(d *decoder, num int) (err error) {
		switch num {
		case 1:
			tx.BodyBytes, err = d.bytes("tx.body")
			if err == nil {
				err = decodeBody(tx.BodyBytes, &tx.Body)
			}
		case 2:
			var raw []byte
			if raw, err = d.bytes("tx.signatures"); err == nil {
				var s Signature
				s, err = decodeSignature(raw)
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

func decodeSignature(b []byte) (Signature, error) {
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
	if err != nil {
		return s, err
	}
	return s, nil
}

func decodeBody(b []byte, body *Body) error {
	err := decodeFields(b, func(d *decoder, num int) (err error) {
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
				return decodeTransfer(raw, body.Transfer)
			})
		case 11:
			return d.message("body.mint", func(raw []byte) (err error) {
				body.Mint, err = decodeMint(raw)
				return err
			})
		case 12:
			return d.message("body.burn", func(raw []byte) (err error) {
				body.Burn, err = decodeBurn(raw)
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
	return err
}

func decodeTransfer(b []byte, t *Transfer) error {
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

func decodeOutpoint(b []byte) (Outpoint, error) {
	var o Outpoint
	hasTxID := false
	err := decodeFields(b, func(d *decoder, num int) (err error) {
		switch num {
		case 1:
			hasTxID = true
			var id []byte
			if id, err = d.bytes("outpoint.txid"); err == nil && len(id) != len(o.TxID) {
				err = fmt.Errorf("outpoint.txid: %d bytes, want %d", len(id), len(o.TxID))
			}
			copy(o.TxID[:], id)
		case 2:
			o.Index, err = d.uint32("outpoint.index")
		default:
			err = unknownField("Outpoint", num)
		}
		return err
	})
	if err == nil && !hasTxID {
		err = fmt.Errorf("outpoint.txid: missing, want %d bytes", len(o.TxID))
	}
	return o, err
}

// compareSigners orders signatures by key type, then public key bytes.
func compareSigners(a, b Signature) int {
	if a.KeyType != b.KeyType {
		return cmp.Compare(a.KeyType, b.KeyType)
	}
	return bytes.Compare(a.PublicKey, b.PublicKey)
}

// AddSignature inserts s in canonical order, replacing an earlier signature
// by the same key.
func (tx *Tx) AddSignature(s Signature) {
	i, found := slices.BinarySearchFunc(tx.Signatures, s, compareSigners)
	if found {
		tx.Signatures[i] = s
		return
	}
	tx.Signatures = slices.Insert(tx.Signatures, i, s)
}

// EncodeOutput returns the canonical bytes of an output (also a stored UTXO).
func EncodeOutput(o Output) []byte {
	var e encoder
	encodeOutput(&e, o)
	return e.buf
}

// DecodeOutput parses an output or stored UTXO.
func DecodeOutput(b []byte) (Output, error) {
	var o Output
	err := decodeFields(b, func(d *decoder, num int) (err error) {
		switch num {
		case 1:
			o.Owner, err = d.string("output.owner")
		case 2:
			o.Asset, err = d.string("output.asset")
		case 3:
			o.Amount, err = d.uint("output.amount")
		default:
			err = unknownField("Output", num)
		}
		return err
	})
	if err != nil {
		return o, err
	}
	return o, nil
}

// outpointKeyBytes is the fixed-width form used inside store keys: txid‖index (big-endian).
func outpointKeyBytes(o Outpoint) []byte {
	k := make([]byte, 0, 36)
	k = append(k, o.TxID[:]...)
	return binary.BigEndian.AppendUint32(k, o.Index)
}

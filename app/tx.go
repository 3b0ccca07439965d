package app

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"sync/atomic"
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
//
// BodyBytes, public keys and signatures of the result are sub-slices of b:
// the caller must not change b while it uses the transaction.
func DecodeTx(b []byte) (*Tx, error) {
	if len(b) == 0 {
		return nil, rejectf(ErrMalformed, "empty transaction")
	}
	// Most transactions are transfers of one or two inputs to one or two
	// outputs with one signature: their Transfer and lists come in the
	// same allocation as the Tx (and go unused by the others).
	all := &struct {
		tx Tx
		txLists
	}{}
	tx := &all.tx
	// One pass decodes and checks the canonical form (see canonReader):
	// accepting exactly the bytes that Encode and EncodeBody would write
	// for what was decoded.
	if err := decodeTx(b, tx, &all.txLists); err != nil {
		return nil, rejectf(ErrMalformed, "%v", err)
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

// txLists is where DecodeTx puts a transfer and, when they fit, its lists
// and the signatures.
type txLists struct {
	transfer   Transfer
	inputs     [2]Outpoint
	outputs    [2]Output
	signatures [1]Signature
}

// decodeTx reads a canonical Tx: body (not empty), signatures, pow nonce.
// A transfer in the body, and the lists that fit, are decoded into lists.
func decodeTx(b []byte, tx *Tx, lists *txLists) error {
	if _, n := countElements(b); n > len(lists.signatures) {
		tx.Signatures = make([]Signature, 0, n)
	} else if n > 0 {
		tx.Signatures = lists.signatures[:0]
	}
	r := canonReader{b: b}
	for r.more() {
		num, typ, err := r.key()
		if err != nil {
			return err
		}
		switch num {
		case 1:
			if err := r.order(num, false, "tx.body"); err != nil {
				return err
			}
			if tx.BodyBytes, err = r.bytes(typ, "tx.body", false); err != nil {
				return err
			}
			if err := decodeBody(tx.BodyBytes, &tx.Body, lists); err != nil {
				return err
			}
		case 2:
			if err := r.order(num, true, "tx.signatures"); err != nil {
				return err
			}
			raw, err := r.bytes(typ, "tx.signatures", true)
			if err != nil {
				return err
			}
			s, err := decodeSignature(raw)
			if err != nil {
				return err
			}
			tx.Signatures = append(tx.Signatures, s)
		case 3:
			if err := r.order(num, false, "tx.pow_nonce"); err != nil {
				return err
			}
			if tx.PowNonce, err = r.varint(typ, "tx.pow_nonce"); err != nil {
				return err
			}
		default:
			return unknownField("Tx", int(num))
		}
	}
	return nil
}

func decodeSignature(b []byte) (Signature, error) {
	var s Signature
	r := canonReader{b: b}
	for r.more() {
		num, typ, err := r.key()
		if err != nil {
			return s, err
		}
		switch num {
		case 1:
			if err = r.order(num, false, "signature.key_type"); err == nil {
				var v uint32
				v, err = r.uint32(typ, "signature.key_type")
				s.KeyType = KeyType(v)
			}
		case 2:
			if err = r.order(num, false, "signature.public_key"); err == nil {
				s.PublicKey, err = r.bytes(typ, "signature.public_key", false)
			}
		case 3:
			if err = r.order(num, false, "signature.signature"); err == nil {
				s.Signature, err = r.bytes(typ, "signature.signature", false)
			}
		default:
			err = unknownField("Signature", int(num))
		}
		if err != nil {
			return s, err
		}
	}
	return s, nil
}

// decodeBody reads a canonical TxBody. At most one message field may be
// present (EncodeBody writes only one); a body with none is canonical, and
// DecodeTx refuses it afterwards. A transfer is decoded into lists.
func decodeBody(b []byte, body *Body, lists *txLists) error {
	r := canonReader{b: b}
	for r.more() {
		num, typ, err := r.key()
		if err != nil {
			return err
		}
		if err := r.order(num, false, "body"); err != nil {
			return err
		}
		if num >= 10 && body.messages() != 0 {
			return errNotCanonical("body", "more than one message")
		}
		switch num {
		case 1:
			body.Version, err = r.uint32(typ, "body.version")
		case 2:
			var v []byte
			v, err = r.bytes(typ, "body.chain_id", false)
			body.ChainID = chainIDString(v)
		case 3:
			var v []byte
			v, err = r.bytes(typ, "body.memo", false)
			body.Memo = string(v)
		case 4:
			body.Nonce, err = r.varint(typ, "body.nonce")
		case 10:
			var raw []byte
			if raw, err = r.bytes(typ, "body.transfer", true); err == nil {
				body.Transfer = &lists.transfer
				err = decodeTransfer(raw, lists)
			}
		case 11:
			var raw []byte
			if raw, err = r.bytes(typ, "body.mint", true); err == nil {
				var o Output
				if o, err = decodeOutputCanonical(raw); err == nil {
					body.Mint = &Mint{To: o.Owner, Asset: o.Asset, Amount: o.Amount}
				}
			}
		case 12:
			var raw []byte
			if raw, err = r.bytes(typ, "body.burn", true); err == nil {
				body.Burn, err = decodeBurn(raw)
			}
		default:
			err = decodeAction(&r, int(num), typ, body)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// knownChainID is the chain id of the last transaction check found for
// its state's chain: a node sees its own chain's id in almost every
// transaction, and DecodeTx reuses the string rather than copy it each
// time. Transactions for other chains do not replace it. Shared by every
// App of the process; a string never changes, so which one is kept
// cannot change a result.
var knownChainID atomic.Pointer[string]

// chainIDString returns v as a string: knownChainID when equal.
func chainIDString(v []byte) string {
	if known := knownChainID.Load(); known != nil && *known == string(v) {
		return *known
	}
	return string(v)
}

// rememberChainID makes id, the chain id of a state, the one DecodeTx
// reuses.
func rememberChainID(id string) {
	if known := knownChainID.Load(); known == nil || *known != id {
		s := id // on the heap only when stored
		knownChainID.Store(&s)
	}
}

// decodeAction reads a governance action. Its decoder is the lenient
// decodeFields kind shared with stored records, so the canonical check is
// done here by re-encoding the action: actions are rare, transfers are not.
func decodeAction(r *canonReader, num, typ int, body *Body) error {
	action := newAction(num)
	if action == nil {
		return unknownField("TxBody", num)
	}
	raw, err := r.bytes(typ, "body.action", true)
	if err != nil {
		return err
	}
	if err := action.decode(raw); err != nil {
		return err
	}
	var e encoder
	action.encode(&e)
	if !bytes.Equal(e.buf, raw) {
		return errNotCanonical("body.action", "differs from its re-encoding")
	}
	body.Action = action
	return nil
}

// decodeTransfer reads a canonical Transfer, every input and then every
// output, into lists.transfer.
func decodeTransfer(b []byte, lists *txLists) error {
	t := &lists.transfer
	nIn, nOut := countElements(b)
	switch {
	case nIn > len(lists.inputs):
		t.Inputs = make([]Outpoint, 0, nIn)
	case nIn > 0:
		t.Inputs = lists.inputs[:0]
	}
	switch {
	case nOut > len(lists.outputs):
		t.Outputs = make([]Output, 0, nOut)
	case nOut > 0:
		t.Outputs = lists.outputs[:0]
	}
	r := canonReader{b: b}
	for r.more() {
		num, typ, err := r.key()
		if err != nil {
			return err
		}
		switch num {
		case 1:
			var o Outpoint
			if o, err = readOutpoint(&r, num, typ, "transfer.inputs"); err == nil {
				t.Inputs = append(t.Inputs, o)
			}
		case 2:
			var raw []byte
			if err = r.order(num, true, "transfer.outputs"); err == nil {
				raw, err = r.bytes(typ, "transfer.outputs", true)
			}
			if err == nil {
				var o Output
				if o, err = decodeOutputCanonical(raw); err == nil {
					t.Outputs = append(t.Outputs, o)
				}
			}
		default:
			err = unknownField("Transfer", int(num))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// readOutpoint reads one element of a repeated Outpoint field numbered num.
func readOutpoint(r *canonReader, num uint64, typ int, field string) (Outpoint, error) {
	if err := r.order(num, true, field); err != nil {
		return Outpoint{}, err
	}
	raw, err := r.bytes(typ, field, true)
	if err != nil {
		return Outpoint{}, err
	}
	return decodeOutpointCanonical(raw)
}

// decodeOutpointCanonical reads a canonical Outpoint: txid (always 32
// bytes), then the index unless it is 0.
func decodeOutpointCanonical(b []byte) (Outpoint, error) {
	var o Outpoint
	hasTxID := false
	r := canonReader{b: b}
	for r.more() {
		num, typ, err := r.key()
		if err != nil {
			return o, err
		}
		switch num {
		case 1:
			hasTxID = true
			var id []byte
			if err = r.order(num, false, "outpoint.txid"); err == nil {
				id, err = r.bytes(typ, "outpoint.txid", true)
			}
			if err == nil && len(id) != len(o.TxID) {
				err = fmt.Errorf("outpoint.txid: %d bytes, want %d", len(id), len(o.TxID))
			}
			copy(o.TxID[:], id)
		case 2:
			if err = r.order(num, false, "outpoint.index"); err == nil {
				o.Index, err = r.uint32(typ, "outpoint.index")
			}
		default:
			err = unknownField("Outpoint", int(num))
		}
		if err != nil {
			return o, err
		}
	}
	if !hasTxID {
		return o, fmt.Errorf("outpoint.txid: missing, want %d bytes", len(o.TxID))
	}
	return o, nil
}

// decodeOutputCanonical reads a canonical Output (also a Mint). Owner and
// asset share one string made of the output's bytes: one allocation instead
// of two, and a kept Output holds on to only its own few bytes.
func decodeOutputCanonical(b []byte) (Output, error) {
	var o Output
	var ownerAt, ownerLen, assetAt, assetLen int
	r := canonReader{b: b}
	for r.more() {
		num, typ, err := r.key()
		if err != nil {
			return o, err
		}
		var v []byte
		switch num {
		case 1:
			if err = r.order(num, false, "output.owner"); err == nil {
				v, err = r.bytes(typ, "output.owner", false)
				ownerAt, ownerLen = len(b)-len(r.b)-len(v), len(v)
			}
		case 2:
			if err = r.order(num, false, "output.asset"); err == nil {
				v, err = r.bytes(typ, "output.asset", false)
				assetAt, assetLen = len(b)-len(r.b)-len(v), len(v)
			}
		case 3:
			if err = r.order(num, false, "output.amount"); err == nil {
				o.Amount, err = r.varint(typ, "output.amount")
			}
		default:
			err = unknownField("Output", int(num))
		}
		if err != nil {
			return o, err
		}
	}
	o.Owner, o.Asset = ownerAndAsset(b, ownerAt, ownerLen, assetAt, assetLen)
	return o, nil
}

// decodeOutpoint parses a stored Outpoint (a query's UTXO entry); the
// transaction decoder uses the stricter decodeOutpointCanonical.
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
	// Sized for the longest form, so that it is one allocation: a key of
	// one byte and a varint of at most ten per field.
	e := encoder{buf: make([]byte, 0, 3*(1+binary.MaxVarintLen64)+len(o.Owner)+len(o.Asset))}
	encodeOutput(&e, o)
	return e.buf
}

// DecodeOutput parses an output or stored UTXO.
// Like decodeOutputCanonical, owner and asset share one string made of b.
func DecodeOutput(b []byte) (Output, error) {
	var o Output
	var ownerAt, ownerLen, assetAt, assetLen int
	d := decoder{b: b}
	for {
		num, ok, err := d.next()
		if !ok {
			if err != nil {
				return o, err
			}
			break
		}
		var v []byte
		switch num {
		case 1:
			v, err = d.bytes("output.owner")
			ownerAt, ownerLen = len(b)-len(d.b)-len(v), len(v)
		case 2:
			v, err = d.bytes("output.asset")
			assetAt, assetLen = len(b)-len(d.b)-len(v), len(v)
		case 3:
			o.Amount, err = d.uint("output.amount")
		default:
			err = unknownField("Output", num)
		}
		if err != nil {
			return o, err
		}
	}
	o.Owner, o.Asset = ownerAndAsset(b, ownerAt, ownerLen, assetAt, assetLen)
	return o, nil
}

// ownerAndAsset cuts an output's owner and asset out of its encoding b, at
// the offsets its decoder found, sharing one string made of b.
func ownerAndAsset(b []byte, ownerAt, ownerLen, assetAt, assetLen int) (owner, asset string) {
	if ownerLen+assetLen == 0 {
		return "", ""
	}
	s := string(b)
	return s[ownerAt : ownerAt+ownerLen], s[assetAt : assetAt+assetLen]
}

// outpointKeyBytes is the fixed-width form used inside store keys: txid‖index (big-endian).
func outpointKeyBytes(o Outpoint) []byte { return appendOutpoint(make([]byte, 0, 36), "", o) }

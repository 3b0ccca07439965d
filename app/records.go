package app

import "encoding/binary"

// The records kept in the state tree, with their canonical encodings. The
// schema is the same .proto as the transaction (docs/proto).

// AccountStatus says whether an account may move coins and sign.
type AccountStatus uint32

const (
	StatusActive AccountStatus = 0
	StatusFrozen AccountStatus = 1
)

func (s AccountStatus) String() string {
	if s == StatusFrozen {
		return "frozen"
	}
	return "active"
}

// AccountKey is one key of an account's key set with its voting weight.
type AccountKey struct {
	KeyType   KeyType
	PublicKey []byte
	Weight    uint32
}

// Account is a registered identity: an M-of-N key set, roles and a status.
// Rotating keys changes Keys, never Name, so coins and roles stay put.
type Account struct {
	Name         string
	Organization string
	Keys         []AccountKey
	Threshold    uint32
	Grants       []Grant
	Status       AccountStatus
}

// Grant is a role held by an account, until height ExpiresAt (0 = never).
type Grant struct {
	Role      string
	ExpiresAt int64
}

// Asset is a unit of account with its issuers and current total supply.
type Asset struct {
	ID       string
	Decimals uint32
	Issuers  []Issuer
	Supply   uint64
}

// Issuer may mint an asset while its outstanding amount (minted less
// burned) stays within Cap; only governance changes Cap.
type Issuer struct {
	Account string
	Cap     uint64
	Minted  uint64
}

// Params are the consensus limits every node applies alike.
type Params struct {
	MaxTxBytes    uint32 // largest encoded transaction accepted
	MaxInputs     uint32 // most inputs in one transfer
	MaxOutputs    uint32 // most outputs in one transfer
	MaxSignatures uint32 // most signatures on one transaction
	MaxMemoBytes  uint32 // longest memo
	// GovernanceThreshold is how many distinct organisations' admins must
	// approve a governance action.
	GovernanceThreshold uint32
	// MinValidators is the fewest validators a validator change may leave.
	MinValidators uint32
	// Modules are the validation modules every transaction passes, in order.
	Modules []string
	// PowDifficultyBits is how many leading zero bits the proof-of-work
	// stamp needs; 0 turns the pow module's check off.
	PowDifficultyBits uint32
}

// DefaultParams are the limits used when genesis names none.
func DefaultParams() Params {
	return Params{MaxTxBytes: 64 << 10, MaxInputs: 256, MaxOutputs: 256, MaxSignatures: 32, MaxMemoBytes: 256, GovernanceThreshold: 1, MinValidators: 1,
		Modules: DefaultModuleOrder()}
}

// Validator is the ledger's record of one genesis or governance validator.
type Validator struct {
	Name      string
	KeyType   string // CometBFT key type, e.g. "ed25519"
	PublicKey []byte
	Power     int64
	Operator  string // account that runs this validator
}

func encodeAccount(a *Account) []byte {
	var e encoder
	encodeAccountTo(&e, a)
	return e.buf
}

func encodeAccountTo(e *encoder, a *Account) {
	e.string(1, a.Name)
	e.string(2, a.Organization)
	for _, k := range a.Keys {
		e.message(3, true, func(e *encoder) { encodeAccountKey(e, k) })
	}
	e.uint(4, uint64(a.Threshold))
	for _, g := range a.Grants {
		e.message(5, true, func(e *encoder) {
			e.string(1, g.Role)
			e.uint(2, uint64(g.ExpiresAt))
		})
	}
	e.uint(6, uint64(a.Status))
}

func encodeAccountKey(e *encoder, k AccountKey) {
	e.uint(1, uint64(k.KeyType))
	e.bytes(2, k.PublicKey)
	e.uint(3, uint64(k.Weight))
}

// DecodeAccount parses a stored account (the value of an /account query).
//
// The records read for every transaction (accounts, assets, params, coins,
// balances) are decoded by loops over a decoder on the stack rather than
// through decodeFields, whose callback makes its decoder escape to the heap.
//
// Most accounts have one key and one role: those come in the account's
// own allocation.
func DecodeAccount(b []byte) (*Account, error) {
	all := &struct {
		a     Account
		key   [1]AccountKey
		grant [1]Grant
	}{}
	a := &all.a
	a.Keys, a.Grants = all.key[:0], all.grant[:0]
	d := decoder{b: b}
	for {
		num, ok, err := d.next()
		if !ok {
			if err != nil {
				return nil, err
			}
			if len(a.Keys) == 0 {
				a.Keys = nil // as an account without keys always decoded
			}
			if len(a.Grants) == 0 {
				a.Grants = nil
			}
			return a, nil
		}
		switch num {
		case 1:
			a.Name, err = d.string("account.name")
		case 2:
			a.Organization, err = d.string("account.organization")
		case 3:
			var raw []byte
			if raw, err = d.bytes("account.keys"); err == nil {
				var k AccountKey
				k, err = decodeAccountKey(raw)
				a.Keys = append(a.Keys, k)
			}
		case 4:
			a.Threshold, err = d.uint32("account.threshold")
		case 5:
			var raw []byte
			if raw, err = d.bytes("account.grants"); err == nil {
				var g Grant
				g, err = decodeGrant(raw)
				a.Grants = append(a.Grants, g)
			}
		case 6:
			var s uint32
			s, err = d.uint32("account.status")
			a.Status = AccountStatus(s)
		default:
			err = unknownField("Account", num)
		}
		if err != nil {
			return nil, err
		}
	}
}

func decodeAccountKey(b []byte) (AccountKey, error) {
	var k AccountKey
	d := decoder{b: b}
	for {
		num, ok, err := d.next()
		if !ok {
			return k, err
		}
		switch num {
		case 1:
			var t uint32
			t, err = d.uint32("account_key.key_type")
			k.KeyType = KeyType(t)
		case 2:
			k.PublicKey, err = d.bytes("account_key.public_key")
		case 3:
			k.Weight, err = d.uint32("account_key.weight")
		default:
			err = unknownField("AccountKey", num)
		}
		if err != nil {
			return k, err
		}
	}
}

func encodeAsset(a *Asset) []byte {
	var e encoder
	encodeAssetTo(&e, a)
	return e.buf
}

func encodeAssetTo(e *encoder, a *Asset) {
	e.string(1, a.ID)
	e.uint(2, uint64(a.Decimals))
	for _, i := range a.Issuers {
		e.message(3, true, func(e *encoder) {
			e.string(1, i.Account)
			e.uint(2, i.Cap)
			e.uint(3, i.Minted)
		})
	}
	e.uint(4, a.Supply)
}

// DecodeAsset parses a stored asset (the value of an /asset query).
func DecodeAsset(b []byte) (*Asset, error) {
	a := &Asset{}
	d := decoder{b: b}
	for {
		num, ok, err := d.next()
		if !ok {
			if err != nil {
				return nil, err
			}
			return a, nil
		}
		switch num {
		case 1:
			a.ID, err = d.string("asset.id")
		case 2:
			a.Decimals, err = d.uint32("asset.decimals")
		case 3:
			var raw []byte
			if raw, err = d.bytes("asset.issuers"); err == nil {
				var i Issuer
				i, err = decodeIssuer(raw)
				a.Issuers = append(a.Issuers, i)
			}
		case 4:
			a.Supply, err = d.uint("asset.supply")
		default:
			err = unknownField("Asset", num)
		}
		if err != nil {
			return nil, err
		}
	}
}

func encodeParams(p *Params) []byte {
	var e encoder
	encodeParamsTo(&e, p)
	return e.buf
}

func encodeParamsTo(e *encoder, p *Params) {
	for i, v := range p.fields() {
		if v != nil {
			e.uint(i, uint64(*v))
		}
	}
	e.repeatedString(8, p.Modules)
	e.uint(9, uint64(p.PowDifficultyBits))
}

// fields lists the params by field number, for the codec.
func (p *Params) fields() []*uint32 {
	return []*uint32{1: &p.MaxTxBytes, 2: &p.MaxInputs, 3: &p.MaxOutputs, 4: &p.MaxSignatures, 5: &p.MaxMemoBytes,
		6: &p.GovernanceThreshold, 7: &p.MinValidators}
}

// DecodeParams parses stored params (the value of a /params query).
func DecodeParams(b []byte) (*Params, error) {
	p := &Params{}
	fields := p.fields()
	d := decoder{b: b}
	for {
		num, ok, err := d.next()
		if !ok {
			if err != nil {
				return nil, err
			}
			return p, nil
		}
		switch {
		case num == 8:
			var m string
			m, err = d.string("params.modules")
			p.Modules = append(p.Modules, m)
		case num == 9:
			p.PowDifficultyBits, err = d.uint32("params.pow_difficulty_bits")
		case num >= len(fields) || fields[num] == nil:
			err = unknownField("Params", num)
		default:
			*fields[num], err = d.uint32(paramsFieldNames[num])
		}
		if err != nil {
			return nil, err
		}
	}
}

// paramsFieldNames name the uint32 params fields in decoding errors.
var paramsFieldNames = [...]string{1: "params.1", 2: "params.2", 3: "params.3", 4: "params.4", 5: "params.5", 6: "params.6", 7: "params.7"}

// EncodeBalance and DecodeBalance: a balance is the message {uint64 amount = 1}.
func encodeBalance(amount uint64) []byte {
	e := encoder{buf: make([]byte, 0, 1+binary.MaxVarintLen64)} // one allocation
	e.uint(1, amount)
	return e.buf
}

// DecodeBalance parses a stored balance (the value of a /balance query).
func DecodeBalance(b []byte) (uint64, error) {
	var amount uint64
	d := decoder{b: b}
	for {
		num, ok, err := d.next()
		if !ok {
			if err != nil {
				return 0, err
			}
			return amount, nil
		}
		if num != 1 {
			return 0, unknownField("Balance", num)
		}
		if amount, err = d.uint("balance.amount"); err != nil {
			return 0, err
		}
	}
}

func encodeValidator(v *Validator) []byte {
	var e encoder
	e.string(1, v.Name)
	e.string(2, v.KeyType)
	e.bytes(3, v.PublicKey)
	e.uint(4, uint64(v.Power))
	e.string(5, v.Operator)
	return e.buf
}

// DecodeValidator parses a stored validator record.
func DecodeValidator(b []byte) (*Validator, error) {
	v := &Validator{}
	err := decodeFields(b, func(d *decoder, num int) (err error) {
		switch num {
		case 1:
			v.Name, err = d.string("validator.name")
		case 2:
			v.KeyType, err = d.string("validator.key_type")
		case 3:
			v.PublicKey, err = d.bytes("validator.public_key")
		case 4:
			v.Power, err = d.int64("validator.power")
		case 5:
			v.Operator, err = d.string("validator.operator")
		default:
			err = unknownField("Validator", num)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

func decodeGrant(b []byte) (Grant, error) {
	var g Grant
	d := decoder{b: b}
	for {
		num, ok, err := d.next()
		if !ok {
			return g, err
		}
		switch num {
		case 1:
			g.Role, err = d.string("grant.role")
		case 2:
			g.ExpiresAt, err = d.int64("grant.expires_at")
		default:
			err = unknownField("Grant", num)
		}
		if err != nil {
			return g, err
		}
	}
}

func decodeIssuer(b []byte) (Issuer, error) {
	var i Issuer
	d := decoder{b: b}
	for {
		num, ok, err := d.next()
		if !ok {
			return i, err
		}
		switch num {
		case 1:
			i.Account, err = d.string("issuer.account")
		case 2:
			i.Cap, err = d.uint("issuer.cap")
		case 3:
			i.Minted, err = d.uint("issuer.minted")
		default:
			err = unknownField("Issuer", num)
		}
		if err != nil {
			return i, err
		}
	}
}

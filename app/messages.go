package app

import "fmt"

// The messages a body can carry besides Transfer. Each has a fixed field
// number in TxBody (see docs/proto); exactly one is set per transaction.
//
//	10 transfer        11 mint             12 burn
//	20 register_account 21 set_account_keys 22 freeze_account 23 unfreeze_account
//	24 grant_role      25 revoke_role      26 revoke_all       27 set_role
//	28 create_asset    29 set_issuer       30 set_validator
//	31 allow_node      32 remove_node      33 set_params       34 pause   35 unpause

// Mint creates Amount new coins of Asset for To, signed by an issuer of the
// asset within its cap.
type Mint struct {
	To     string
	Asset  string
	Amount uint64
}

// Burn destroys Amount of Asset from Inputs, which one issuer of the asset
// owns; the rest of the inputs comes back to it as output 0.
type Burn struct {
	Inputs []Outpoint
	Asset  string
	Amount uint64
}

// Action is a governance action: it needs the approval of admins of enough
// distinct organisations (or, for SetAccountKeys, of the account itself).
type Action interface {
	fieldNum() int
	encode(e *encoder)
	decode(b []byte) error
}

// RegisterAccount creates an account.
type RegisterAccount struct{ Account Account }

// SetAccountKeys replaces an account's key set and threshold.
type SetAccountKeys struct {
	Name      string
	Keys      []AccountKey
	Threshold uint32
}

// FreezeAccount stops an account from moving coins or signing.
type FreezeAccount struct{ Name string }

// UnfreezeAccount lifts a freeze.
type UnfreezeAccount struct{ Name string }

// GrantRole gives an account a role, until ExpiresAt (0 = never).
type GrantRole struct {
	Account   string
	Role      string
	ExpiresAt int64
}

// RevokeRole takes one role from an account.
type RevokeRole struct {
	Account string
	Role    string
}

// RevokeAll takes every role from an account at once (after a compromise).
type RevokeAll struct{ Account string }

// SetRole defines or redefines a role's permissions.
type SetRole struct {
	Name        string
	Permissions []string
}

// CreateAsset declares a new asset with its issuers.
type CreateAsset struct {
	ID       string
	Decimals uint32
	Issuers  []Issuer
}

// SetIssuer makes Account an issuer of Asset with Cap, or with Cap 0 removes it.
type SetIssuer struct {
	Asset   string
	Account string
	Cap     uint64
}

// SetValidator adds a validator, changes its power, or with Power 0 removes it.
type SetValidator struct {
	Name      string
	PublicKey []byte // ed25519
	Power     int64
	Operator  string
}

// AllowNode admits a p2p node id; RemoveNode takes it off the allowlist.
type AllowNode struct{ NodeID string }

// RemoveNode takes a node id off the p2p allowlist.
type RemoveNode struct{ NodeID string }

// SetParams replaces the consensus params; the transactions after it, in
// the same block too, are checked against the new ones.
type SetParams struct{ Params Params }

// Pause stops transfers, mints and burns of Asset ("" = all assets) until
// height Until (0 = until unpaused).
type Pause struct {
	Asset string
	Until int64
}

// Unpause lifts the pause of Asset ("" = the global pause).
type Unpause struct{ Asset string }

// newAction returns an empty action for a TxBody field number, or nil.
func newAction(num int) Action {
	switch num {
	case 20:
		return &RegisterAccount{}
	case 21:
		return &SetAccountKeys{}
	case 22:
		return &FreezeAccount{}
	case 23:
		return &UnfreezeAccount{}
	case 24:
		return &GrantRole{}
	case 25:
		return &RevokeRole{}
	case 26:
		return &RevokeAll{}
	case 27:
		return &SetRole{}
	case 28:
		return &CreateAsset{}
	case 29:
		return &SetIssuer{}
	case 30:
		return &SetValidator{}
	case 31:
		return &AllowNode{}
	case 32:
		return &RemoveNode{}
	case 33:
		return &SetParams{}
	case 34:
		return &Pause{}
	case 35:
		return &Unpause{}
	case 36:
		return &RotateValidatorKey{}
	}
	return nil
}

func (*RegisterAccount) fieldNum() int { return 20 }
func (*SetAccountKeys) fieldNum() int  { return 21 }
func (*FreezeAccount) fieldNum() int   { return 22 }
func (*UnfreezeAccount) fieldNum() int { return 23 }
func (*GrantRole) fieldNum() int       { return 24 }
func (*RevokeRole) fieldNum() int      { return 25 }
func (*RevokeAll) fieldNum() int       { return 26 }
func (*SetRole) fieldNum() int         { return 27 }
func (*CreateAsset) fieldNum() int     { return 28 }
func (*SetIssuer) fieldNum() int       { return 29 }
func (*SetValidator) fieldNum() int    { return 30 }
func (*AllowNode) fieldNum() int       { return 31 }
func (*RemoveNode) fieldNum() int      { return 32 }
func (*SetParams) fieldNum() int       { return 33 }
func (*Pause) fieldNum() int           { return 34 }
func (*Unpause) fieldNum() int         { return 35 }

// Encodings. Single-string messages share one shape: {string name = 1}.

func encodeName(e *encoder, s string) { e.string(1, s) }

func decodeName(b []byte, msg string, dst *string) error {
	return decodeFields(b, func(d *decoder, num int) (err error) {
		if num != 1 {
			return unknownField(msg, num)
		}
		*dst, err = d.string(msg + ".name")
		return err
	})
}

func (a *FreezeAccount) encode(e *encoder)       { encodeName(e, a.Name) }
func (a *FreezeAccount) decode(b []byte) error   { return decodeName(b, "FreezeAccount", &a.Name) }
func (a *UnfreezeAccount) encode(e *encoder)     { encodeName(e, a.Name) }
func (a *UnfreezeAccount) decode(b []byte) error { return decodeName(b, "UnfreezeAccount", &a.Name) }
func (a *RevokeAll) encode(e *encoder)           { encodeName(e, a.Account) }
func (a *RevokeAll) decode(b []byte) error       { return decodeName(b, "RevokeAll", &a.Account) }
func (a *AllowNode) encode(e *encoder)           { encodeName(e, a.NodeID) }
func (a *AllowNode) decode(b []byte) error       { return decodeName(b, "AllowNode", &a.NodeID) }
func (a *RemoveNode) encode(e *encoder)          { encodeName(e, a.NodeID) }
func (a *RemoveNode) decode(b []byte) error      { return decodeName(b, "RemoveNode", &a.NodeID) }
func (a *Unpause) encode(e *encoder)             { encodeName(e, a.Asset) }
func (a *Unpause) decode(b []byte) error         { return decodeName(b, "Unpause", &a.Asset) }

func (a *RegisterAccount) encode(e *encoder) { encodeAccountTo(e, &a.Account) }
func (a *RegisterAccount) decode(b []byte) error {
	acct, err := DecodeAccount(b)
	if err == nil {
		a.Account = *acct
	}
	return err
}

func (a *SetAccountKeys) encode(e *encoder) {
	e.string(1, a.Name)
	for _, k := range a.Keys {
		e.message(2, true, func(e *encoder) { encodeAccountKey(e, k) })
	}
	e.uint(3, uint64(a.Threshold))
}

func (a *SetAccountKeys) decode(b []byte) error {
	return decodeFields(b, func(d *decoder, num int) (err error) {
		switch num {
		case 1:
			a.Name, err = d.string("set_account_keys.name")
		case 2:
			return d.message("set_account_keys.keys", func(raw []byte) error {
				k, err := decodeAccountKey(raw)
				a.Keys = append(a.Keys, k)
				return err
			})
		case 3:
			a.Threshold, err = d.uint32("set_account_keys.threshold")
		default:
			err = unknownField("SetAccountKeys", num)
		}
		return err
	})
}

func (a *GrantRole) encode(e *encoder) {
	e.string(1, a.Account)
	e.string(2, a.Role)
	e.uint(3, uint64(a.ExpiresAt))
}

func (a *GrantRole) decode(b []byte) error {
	return decodeFields(b, func(d *decoder, num int) (err error) {
		switch num {
		case 1:
			a.Account, err = d.string("grant_role.account")
		case 2:
			a.Role, err = d.string("grant_role.role")
		case 3:
			a.ExpiresAt, err = d.int64("grant_role.expires_at")
		default:
			err = unknownField("GrantRole", num)
		}
		return err
	})
}

func (a *RevokeRole) encode(e *encoder) {
	e.string(1, a.Account)
	e.string(2, a.Role)
}

func (a *RevokeRole) decode(b []byte) error {
	return decodeFields(b, func(d *decoder, num int) (err error) {
		switch num {
		case 1:
			a.Account, err = d.string("revoke_role.account")
		case 2:
			a.Role, err = d.string("revoke_role.role")
		default:
			err = unknownField("RevokeRole", num)
		}
		return err
	})
}

func (a *SetRole) encode(e *encoder) {
	e.string(1, a.Name)
	e.repeatedString(2, a.Permissions)
}

func (a *SetRole) decode(b []byte) error {
	return decodeFields(b, func(d *decoder, num int) (err error) {
		switch num {
		case 1:
			a.Name, err = d.string("set_role.name")
		case 2:
			var p string
			p, err = d.string("set_role.permissions")
			a.Permissions = append(a.Permissions, p)
		default:
			err = unknownField("SetRole", num)
		}
		return err
	})
}

func (a *CreateAsset) encode(e *encoder) {
	encodeAssetTo(e, &Asset{ID: a.ID, Decimals: a.Decimals, Issuers: a.Issuers})
}

func (a *CreateAsset) decode(b []byte) error {
	asset, err := DecodeAsset(b)
	if err != nil {
		return err
	}
	if asset.Supply != 0 {
		return fmt.Errorf("create_asset: supply is set by minting, not here")
	}
	a.ID, a.Decimals, a.Issuers = asset.ID, asset.Decimals, asset.Issuers
	return nil
}

func (a *SetIssuer) encode(e *encoder) {
	e.string(1, a.Asset)
	e.string(2, a.Account)
	e.uint(3, a.Cap)
}

func (a *SetIssuer) decode(b []byte) error {
	return decodeFields(b, func(d *decoder, num int) (err error) {
		switch num {
		case 1:
			a.Asset, err = d.string("set_issuer.asset")
		case 2:
			a.Account, err = d.string("set_issuer.account")
		case 3:
			a.Cap, err = d.uint("set_issuer.cap")
		default:
			err = unknownField("SetIssuer", num)
		}
		return err
	})
}

func (a *SetValidator) encode(e *encoder) {
	e.string(1, a.Name)
	e.bytes(2, a.PublicKey)
	e.uint(3, uint64(a.Power))
	e.string(4, a.Operator)
}

func (a *SetValidator) decode(b []byte) error {
	return decodeFields(b, func(d *decoder, num int) (err error) {
		switch num {
		case 1:
			a.Name, err = d.string("set_validator.name")
		case 2:
			a.PublicKey, err = d.bytes("set_validator.public_key")
		case 3:
			a.Power, err = d.int64("set_validator.power")
		case 4:
			a.Operator, err = d.string("set_validator.operator")
		default:
			err = unknownField("SetValidator", num)
		}
		return err
	})
}

func (a *SetParams) encode(e *encoder) { encodeParamsTo(e, &a.Params) }
func (a *SetParams) decode(b []byte) error {
	p, err := DecodeParams(b)
	if err == nil {
		a.Params = *p
	}
	return err
}

func (a *Pause) encode(e *encoder) {
	e.string(1, a.Asset)
	e.uint(2, uint64(a.Until))
}

func (a *Pause) decode(b []byte) error {
	return decodeFields(b, func(d *decoder, num int) (err error) {
		switch num {
		case 1:
			a.Asset, err = d.string("pause.asset")
		case 2:
			a.Until, err = d.int64("pause.until")
		default:
			err = unknownField("Pause", num)
		}
		return err
	})
}

func encodeMint(e *encoder, m *Mint) {
	encodeOutput(e, Output{Owner: m.To, Asset: m.Asset, Amount: m.Amount})
}

func encodeBurn(e *encoder, m *Burn) {
	for _, in := range m.Inputs {
		e.message(1, true, func(e *encoder) { encodeOutpoint(e, in) })
	}
	e.string(2, m.Asset)
	e.uint(3, m.Amount)
}

// decodeBurn reads a canonical Burn: inputs, then asset, then amount.
func decodeBurn(b []byte) (*Burn, error) {
	m := &Burn{}
	if n, _ := countElements(b); n > 0 {
		m.Inputs = make([]Outpoint, 0, n)
	}
	r := canonReader{b: b}
	for r.more() {
		num, typ, err := r.key()
		if err != nil {
			return nil, err
		}
		switch num {
		case 1:
			var o Outpoint
			if o, err = readOutpoint(&r, num, typ, "burn.inputs"); err == nil {
				m.Inputs = append(m.Inputs, o)
			}
		case 2:
			if err = r.order(num, false, "burn.asset"); err == nil {
				var v []byte
				v, err = r.bytes(typ, "burn.asset", false)
				m.Asset = string(v)
			}
		case 3:
			if err = r.order(num, false, "burn.amount"); err == nil {
				m.Amount, err = r.varint(typ, "burn.amount")
			}
		default:
			err = unknownField("Burn", int(num))
		}
		if err != nil {
			return nil, err
		}
	}
	return m, nil
}

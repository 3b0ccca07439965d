package app

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// Genesis is the app_state of genesis.json. Amounts are base units written
// as decimal strings, so that no JSON tool rounds them.
type Genesis struct {
	Params     *GenesisParams     `json:"params,omitempty"`
	Assets     []GenesisAsset     `json:"assets"`
	Accounts   []GenesisAccount   `json:"accounts"`
	UTXOs      []GenesisUTXO      `json:"utxos"`
	Validators []GenesisValidator `json:"validators,omitempty"`
}

// GenesisParams overrides DefaultParams field by field (zero = default).
type GenesisParams struct {
	MaxTxBytes    uint32 `json:"max_tx_bytes,omitempty"`
	MaxInputs     uint32 `json:"max_inputs,omitempty"`
	MaxOutputs    uint32 `json:"max_outputs,omitempty"`
	MaxSignatures uint32 `json:"max_signatures,omitempty"`
	MaxMemoBytes  uint32 `json:"max_memo_bytes,omitempty"`
}

// GenesisAsset declares an asset; its supply is the sum of its genesis UTXOs.
type GenesisAsset struct {
	ID       string   `json:"id"`
	Decimals uint32   `json:"decimals"`
	Issuers  []string `json:"issuers,omitempty"`
}

// GenesisKey is one key of an account: type "ed25519" or "p256", the public
// key in base64, and its weight (default 1).
type GenesisKey struct {
	Type      string `json:"type"`
	PublicKey string `json:"public_key"`
	Weight    uint32 `json:"weight,omitempty"`
}

// GenesisAccount declares an account; threshold defaults to 1.
type GenesisAccount struct {
	Name         string       `json:"name"`
	Organization string       `json:"organization,omitempty"`
	Keys         []GenesisKey `json:"keys"`
	Threshold    uint32       `json:"threshold,omitempty"`
	Roles        []string     `json:"roles,omitempty"`
}

// GenesisUTXO is an initial coin. Its outpoint is (GenesisTxID(chain), i)
// where i is its position in the list.
type GenesisUTXO struct {
	Owner  string `json:"owner"`
	Asset  string `json:"asset"`
	Amount string `json:"amount"`
}

// GenesisValidator names a genesis validator by its CometBFT public key.
type GenesisValidator struct {
	Name      string `json:"name"`
	PublicKey string `json:"public_key"` // base64 ed25519
}

// GenesisTxID is the txid of the genesis coins of a chain: sha256("consort-genesis:" + chain id).
func GenesisTxID(chainID string) TxID {
	return sha256.Sum256([]byte("consort-genesis:" + chainID))
}

// ParseGenesis decodes app_state strictly: unknown fields are errors.
func ParseGenesis(b []byte) (*Genesis, error) {
	var g Genesis
	if len(b) == 0 {
		return nil, fmt.Errorf("genesis app_state is empty")
	}
	// encoding/json lets a repeated key replace the first silently; in a
	// genesis that could hide coins or accounts from a reviewer.
	if err := rejectDuplicateKeys(json.NewDecoder(bytes.NewReader(b))); err != nil {
		return nil, fmt.Errorf("genesis app_state: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		return nil, fmt.Errorf("genesis app_state: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("genesis app_state: unexpected data after the JSON object")
	}
	return &g, nil
}

// rejectDuplicateKeys walks one JSON value and fails on an object that names
// a key twice.
func rejectDuplicateKeys(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return err
			}
			k, _ := key.(string)
			if seen[k] {
				return fmt.Errorf("key %q appears twice in one object", k)
			}
			seen[k] = true
			if err := rejectDuplicateKeys(dec); err != nil {
				return err
			}
		}
		_, err = dec.Token() // '}'
	case json.Delim('['):
		for dec.More() {
			if err := rejectDuplicateKeys(dec); err != nil {
				return err
			}
		}
		_, err = dec.Token() // ']'
	}
	return err
}

// InitialValidator is a validator as CometBFT's genesis gives it.
type InitialValidator struct {
	KeyType   string
	PublicKey []byte
	Power     int64
}

// applyGenesis validates g completely and writes it to kv. On error nothing
// is worth keeping: the caller discards the working tree.
func applyGenesis(kv KV, chainID string, g *Genesis, vals []InitialValidator) error {
	if chainID == "" {
		return fmt.Errorf("genesis: empty chain id")
	}
	params := DefaultParams()
	if p := g.Params; p != nil {
		for _, f := range []struct {
			dst *uint32
			v   uint32
		}{{&params.MaxTxBytes, p.MaxTxBytes}, {&params.MaxInputs, p.MaxInputs}, {&params.MaxOutputs, p.MaxOutputs}, {&params.MaxSignatures, p.MaxSignatures}, {&params.MaxMemoBytes, p.MaxMemoBytes}} {
			if f.v != 0 {
				*f.dst = f.v
			}
		}
	}
	if err := kv.Set([]byte(keyChainID), []byte(chainID)); err != nil {
		return err
	}
	if err := kv.Set([]byte(keyParams), encodeParams(&params)); err != nil {
		return err
	}
	accounts := map[string]bool{}
	for i, ga := range g.Accounts {
		a, err := ga.account()
		if err != nil {
			return fmt.Errorf("genesis account %d: %w", i, err)
		}
		if accounts[a.Name] {
			return fmt.Errorf("genesis account %d: %s declared twice", i, a.Name)
		}
		accounts[a.Name] = true
		if err := saveAccount(kv, a); err != nil {
			return err
		}
	}
	assets := map[string]*Asset{}
	for i, ga := range g.Assets {
		if err := ValidateAssetID(ga.ID); err != nil {
			return fmt.Errorf("genesis asset %d: %w", i, err)
		}
		if assets[ga.ID] != nil {
			return fmt.Errorf("genesis asset %d: %s declared twice", i, ga.ID)
		}
		if ga.Decimals > MaxDecimals {
			return fmt.Errorf("genesis asset %s: %d decimals, at most %d", ga.ID, ga.Decimals, MaxDecimals)
		}
		for _, iss := range ga.Issuers {
			if !accounts[iss] {
				return fmt.Errorf("genesis asset %s: issuer %s is not a genesis account", ga.ID, iss)
			}
		}
		assets[ga.ID] = &Asset{ID: ga.ID, Decimals: ga.Decimals, Issuers: ga.Issuers}
	}
	genesisID := GenesisTxID(chainID)
	for i, gu := range g.UTXOs {
		asset := assets[gu.Asset]
		switch {
		case !accounts[gu.Owner]:
			return fmt.Errorf("genesis utxo %d: owner %s is not a genesis account", i, gu.Owner)
		case asset == nil:
			return fmt.Errorf("genesis utxo %d: asset %s is not a genesis asset", i, gu.Asset)
		}
		amount, err := strconv.ParseUint(gu.Amount, 10, 64)
		if err != nil || amount == 0 {
			return fmt.Errorf("genesis utxo %d: amount %q: want positive base units as a decimal string", i, gu.Amount)
		}
		var ok bool
		if asset.Supply, ok = addAmount(asset.Supply, amount); !ok {
			return fmt.Errorf("genesis utxo %d: supply of %s exceeds 2^64-1", i, gu.Asset)
		}
		out := Output{Owner: gu.Owner, Asset: gu.Asset, Amount: amount}
		if err := addUTXO(kv, Outpoint{TxID: genesisID, Index: uint32(i)}, out); err != nil {
			return err
		}
		if err := adjustBalance(kv, gu.Owner, gu.Asset, amount, 0); err != nil {
			return err
		}
	}
	for _, ga := range g.Assets { // genesis order, not map order
		if err := saveAsset(kv, assets[ga.ID]); err != nil {
			return err
		}
	}
	return saveValidators(kv, g.Validators, vals)
}

func saveValidators(kv KV, named []GenesisValidator, vals []InitialValidator) error {
	names := map[string]string{}
	for _, v := range named {
		names[v.PublicKey] = v.Name
	}
	for _, v := range vals {
		rec := &Validator{Name: names[base64.StdEncoding.EncodeToString(v.PublicKey)], KeyType: v.KeyType, PublicKey: v.PublicKey, Power: v.Power}
		if err := kv.Set(validatorKey(v.PublicKey), encodeValidator(rec)); err != nil {
			return err
		}
	}
	return nil
}

func (ga GenesisAccount) account() (*Account, error) {
	if err := ValidateAccountName(ga.Name); err != nil {
		return nil, err
	}
	a := &Account{Name: ga.Name, Organization: ga.Organization, Threshold: ga.Threshold, Roles: ga.Roles}
	if a.Threshold == 0 {
		a.Threshold = 1
	}
	if len(ga.Keys) == 0 {
		return nil, fmt.Errorf("%s has no keys", ga.Name)
	}
	var total uint64
	seen := map[string]int{}
	for j, gk := range ga.Keys {
		kt, err := ParseKeyType(gk.Type)
		if err != nil {
			return nil, fmt.Errorf("%s key %d: %w", ga.Name, j, err)
		}
		pub, err := base64.StdEncoding.DecodeString(gk.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("%s key %d: public_key is not base64: %w", ga.Name, j, err)
		}
		if err := ValidatePublicKey(kt, pub); err != nil {
			return nil, fmt.Errorf("%s key %d: %w", ga.Name, j, err)
		}
		// A repeated key would count twice towards the threshold here but
		// can only sign once: the account could never spend.
		id := kt.String() + ":" + string(pub)
		if first, dup := seen[id]; dup {
			return nil, fmt.Errorf("%s key %d repeats key %d", ga.Name, j, first)
		}
		seen[id] = j
		w := gk.Weight
		if w == 0 {
			w = 1
		}
		total += uint64(w)
		a.Keys = append(a.Keys, AccountKey{KeyType: kt, PublicKey: pub, Weight: w})
	}
	if uint64(a.Threshold) > total {
		return nil, fmt.Errorf("%s: threshold %d exceeds the total key weight %d", ga.Name, a.Threshold, total)
	}
	return a, nil
}

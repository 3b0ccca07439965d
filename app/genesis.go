package app

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
)

// Genesis is the app_state of genesis.json. Amounts are base units written
// as decimal strings, so that no JSON tool rounds them.
type Genesis struct {
	Params *GenesisParams `json:"params,omitempty"`
	// Roles defines the roles; empty means the default roles of package policy.
	Roles      []GenesisRole      `json:"roles,omitempty"`
	Assets     []GenesisAsset     `json:"assets"`
	Accounts   []GenesisAccount   `json:"accounts"`
	UTXOs      []GenesisUTXO      `json:"utxos"`
	Validators []GenesisValidator `json:"validators,omitempty"`
	// Nodes are the p2p node ids allowed to connect when a node filters peers.
	Nodes []string `json:"nodes,omitempty"`
}

// GenesisRole is a role and its permissions.
type GenesisRole struct {
	Name        string   `json:"name"`
	Permissions []string `json:"permissions"`
}

// GenesisIssuer lets an account mint an asset up to Cap base units
// outstanding (a decimal string; empty = no limit).
type GenesisIssuer struct {
	Account string `json:"account"`
	Cap     string `json:"cap,omitempty"`
}

// GenesisParams overrides DefaultParams field by field (zero = default).
type GenesisParams struct {
	MaxTxBytes    uint32 `json:"max_tx_bytes,omitempty"`
	MaxInputs     uint32 `json:"max_inputs,omitempty"`
	MaxOutputs    uint32 `json:"max_outputs,omitempty"`
	MaxSignatures uint32 `json:"max_signatures,omitempty"`
	MaxMemoBytes  uint32 `json:"max_memo_bytes,omitempty"`
	// GovernanceThreshold: admins of how many organisations must approve a
	// governance action (default 1).
	GovernanceThreshold uint32 `json:"governance_threshold,omitempty"`
	// MinValidators: the fewest validators a change may leave (default 1).
	MinValidators uint32 `json:"min_validators,omitempty"`
	// Validation names the validation modules, in order (default pow,
	// signature, policy).
	Validation *GenesisValidation `json:"validation,omitempty"`
	// Pow tunes the proof-of-work module.
	Pow *GenesisPow `json:"pow,omitempty"`
}

// GenesisValidation is params.validation.
type GenesisValidation struct {
	Modules []string `json:"modules"`
}

// GenesisPow is params.pow: difficulty_bits 0 (the default) turns it off.
type GenesisPow struct {
	DifficultyBits uint32 `json:"difficulty_bits"`
}

// GenesisAsset declares an asset; its supply is the sum of its genesis UTXOs.
type GenesisAsset struct {
	ID       string          `json:"id"`
	Decimals uint32          `json:"decimals"`
	Issuers  []GenesisIssuer `json:"issuers,omitempty"`
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

// GenesisValidator names a genesis validator by its CometBFT public key and
// says which account operates it.
type GenesisValidator struct {
	Name      string `json:"name"`
	PublicKey string `json:"public_key"` // base64 ed25519
	Operator  string `json:"operator,omitempty"`
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

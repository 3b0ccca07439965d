package consensus

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	cmtcfg "github.com/cometbft/cometbft/config"
	cmtjson "github.com/cometbft/cometbft/libs/json"
	"github.com/cometbft/cometbft/privval"
)

// loadFilePV loads the home's file validator key and its last-sign state.
// privval.LoadFilePV exits the process when either file is missing or
// corrupt, so both are decoded here first and any problem is returned.
func loadFilePV(conf *cmtcfg.Config) (*privval.FilePV, error) {
	keyFile, stateFile := conf.PrivValidatorKeyFile(), conf.PrivValidatorStateFile()
	if err := checkKeyFile(keyFile); err != nil {
		return nil, err
	}
	if err := decodeFile(stateFile, &privval.FilePVLastSignState{}); err != nil {
		return nil, fmt.Errorf("validator sign state: %w", err)
	}
	return privval.LoadFilePV(keyFile, stateFile), nil
}

// loadOrGenFilePV is InitHome's validator key: it keeps a key already in the
// home (an operator may provision one before init), starting a fresh sign
// state if it has none, and generates a key otherwise. A fresh state is safe
// only because the home has no genesis yet, so the key never signed for it.
func loadOrGenFilePV(conf *cmtcfg.Config) (*privval.FilePV, error) {
	keyFile, stateFile := conf.PrivValidatorKeyFile(), conf.PrivValidatorStateFile()
	switch _, err := os.Stat(keyFile); {
	case errors.Is(err, fs.ErrNotExist):
		return savedFilePV(privval.GenFilePV(keyFile, stateFile))
	case err != nil:
		return nil, fmt.Errorf("validator key: %w", err)
	}
	if _, err := os.Stat(stateFile); err == nil {
		return loadFilePV(conf)
	}
	if err := checkKeyFile(keyFile); err != nil {
		return nil, err
	}
	return savedFilePV(privval.LoadFilePVEmptyState(keyFile, stateFile))
}

// savedFilePV writes pv's key and sign state and returns pv. FilePV.Save
// panics on I/O errors; the panic becomes the returned error.
func savedFilePV(pv *privval.FilePV) (_ *privval.FilePV, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("save validator key: %v", r)
		}
	}()
	pv.Save()
	return pv, nil
}

// checkKeyFile makes sure the validator key file holds a private key, which
// the privval loaders take for granted.
func checkKeyFile(keyFile string) error {
	var key privval.FilePVKey
	if err := decodeFile(keyFile, &key); err != nil {
		return fmt.Errorf("validator key: %w", err)
	}
	if key.PrivKey == nil {
		return fmt.Errorf("validator key: %s has no priv_key", keyFile)
	}
	return nil
}

// decodeFile reads file as CometBFT JSON into v.
func decodeFile(file string, v any) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if err := cmtjson.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", file, err)
	}
	return nil
}

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/consort-ledger/consort/app"
	"github.com/consort-ledger/consort/certs/vault"
	"github.com/consort-ledger/consort/client"
	"github.com/consort-ledger/consort/consensus"
	"github.com/consort-ledger/consort/settings"
)

func newValidatorCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validator",
		Short: "Operate this home's validator (key rotation through Vault)",
	}
	cmd.AddCommand(newRotateKeyCmd(g))
	return cmd
}

type rotateOptions struct {
	validator string
	key       string
	from      string
	wait      time.Duration
}

func newRotateKeyCmd(g *globals) *cobra.Command {
	o := rotateOptions{}
	cmd := &cobra.Command{
		Use:   "rotate-key [--validator NAME]",
		Short: "Rotate the validator's consensus key in Vault without stopping the network",
		Long: `rotate-key replaces a validator's consensus key held in a Vault transit key,
while the network keeps running. In order, it:

  1. rotates the transit key in Vault (a new version, not used yet);
  2. reads the new public key and has it sign a proof of possession;
  3. submits a rotate_validator_key transaction signed by the validator's
     operator account (--from, default: the operator named in the validator
     record) and waits for block H that commits it;
  4. schedules the new version to sign from height H+2, when CometBFT's
     validator set switches to the new key (every signer of this validator
     reads the schedule from Vault and switches at that height by itself);
  5. waits until the new key has signed block H+2, then raises the transit
     key's min_encryption_version so the old version can no longer sign.

The Vault connection and the transit key name come from the home's settings
([vault], [signer] key; VAULT_ADDR and VAULT_TOKEN as with the Vault CLI);
the dev chain's key is ` + devValidatorKey + `. A new version left unused by
an interrupted run is reused, not rotated again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return g.rotateKey(cmd, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.validator, "validator", "", "the validator's name (default: the validator whose key is this home's transit key)")
	f.StringVar(&o.key, "key", "", "the Vault transit key (default: [signer] key of the home's settings, else "+devValidatorKey+" on the dev chain)")
	f.StringVar(&o.from, "from", "", "keyring key of the operator account that signs (default: the validator's operator)")
	f.DurationVar(&o.wait, "wait", 2*time.Minute, "how long to wait for the new key's first signature")
	return cmd
}

func (g *globals) rotateKey(cmd *cobra.Command, o rotateOptions) error {
	ctx := cmd.Context()
	say := func(format string, args ...any) { fmt.Fprintf(g.stderr, format+"\n", args...) }
	cfg, err := settings.Load(settings.Source{File: settingsFile(g.home)})
	if err != nil {
		return err
	}
	c, chainID, err := g.connect(ctx)
	if err != nil {
		return err
	}
	keyName := o.key
	if keyName == "" {
		keyName = cfg.Signer.Key
	}
	if keyName == "" && chainID == devOptions().chainID {
		keyName = devValidatorKey
	}
	if keyName == "" {
		return errors.New("no transit key: set [signer] key in the home's settings or pass --key")
	}
	vc, err := vault.New(ctx, vault.ConfigFromSettings(cfg.Vault), zerolog.Nop())
	if err != nil {
		return err
	}
	defer vc.Close()
	transit, store := vc.Transit(keyName), vc.KV(validatorKVMount)

	schedule, _, err := consensus.LoadKeySchedule(ctx, store, keyName, 1)
	if err != nil {
		return err
	}
	status, err := c.Status(ctx)
	if err != nil {
		return err
	}
	active := schedule[len(schedule)-1]
	if active.FromHeight > status.Height+1 {
		return fmt.Errorf("a rotation of %s is pending already: version %d signs from height %d (now %d); wait for it", keyName, active.Version, active.FromHeight, status.Height)
	}
	curPub, err := transit.PubKey(ctx, active.Version)
	if err != nil {
		return err
	}
	vals, err := c.Validators(ctx)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(vals, func(v app.Validator) bool { return bytes.Equal(v.PublicKey, curPub.Bytes()) })
	switch {
	case i < 0:
		return fmt.Errorf("transit key %s version %d (%X) is not in the validator set", keyName, active.Version, curPub.Bytes())
	case o.validator != "" && vals[i].Name != o.validator:
		return fmt.Errorf("--validator %s: transit key %s belongs to validator %q", o.validator, keyName, vals[i].Name)
	}
	val := vals[i]
	from := o.from
	if from == "" {
		from = val.Operator
	}
	if from == "" {
		return fmt.Errorf("validator %q has no operator account: pass --from, a key approved by governance", val.Name)
	}
	say("validator %s: key %s version %d (%X), operator %s", val.Name, keyName, active.Version, curPub.Bytes(), from)

	latest, err := transit.LatestVersion(ctx)
	if err != nil {
		return err
	}
	next := latest
	if latest > active.Version {
		say("1. reusing version %d, created by an earlier attempt and never used", latest)
	} else {
		if next, err = transit.Rotate(ctx); err != nil {
			return err
		}
		say("1. rotated %s in Vault: version %d", keyName, next)
	}
	newPub, err := transit.PubKey(ctx, next)
	if err != nil {
		return err
	}
	proof, err := transit.Sign(ctx, next, app.RotationProofMessage(chainID, curPub.Bytes(), newPub.Bytes()))
	if err != nil {
		return err
	}
	say("2. new public key %X signed its proof of possession", newPub.Bytes())

	body, err := client.BuildAction(chainID, "", &app.RotateValidatorKey{CurrentKey: curPub.Bytes(), NewKey: newPub.Bytes(), Proof: proof})
	if err != nil {
		return err
	}
	s, err := g.signer(from)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	tx, err := client.Sign(ctx, body, s)
	if err != nil {
		return err
	}
	if _, err := c.StampIfNeeded(ctx, tx); err != nil {
		return err
	}
	res, err := c.Broadcast(ctx, tx.Encode(), true)
	if err != nil {
		return err
	}
	if res.Code != 0 {
		return fmt.Errorf("%w with code %d: %s (version %d stays unused; run rotate-key again once fixed)", errRejected, res.Code, res.Log, next)
	}
	switchAt := res.Height + 2
	say("3. rotation committed at height %d (txid %s)", res.Height, res.TxID)
	if err := consensus.ScheduleKeyVersion(ctx, store, keyName, next, switchAt); err != nil {
		return err
	}
	say("4. version %d signs from height %d", next, switchAt)

	if err := waitForSignature(ctx, c, newPub.Address(), switchAt, o.wait); err != nil {
		return fmt.Errorf("%w; min_encryption_version of %s left at %d", err, keyName, active.Version)
	}
	if err := transit.SetMinEncryptionVersion(ctx, next); err != nil {
		return err
	}
	say("5. the new key signed block %d; min_encryption_version of %s is now %d", switchAt, keyName, next)
	return g.print(map[string]any{"validator": val.Name, "key": keyName, "version": next, "public_key": newPub.Bytes(), "height": res.Height, "switch_height": switchAt},
		func(w io.Writer) {
			fmt.Fprintf(w, "rotated validator %s to %s version %d (switched at height %d)\n", val.Name, keyName, next, switchAt)
		})
}

// waitForSignature waits until the commit of block from, or of a later
// block, carries a signature by addr: a commit holds the precommits its
// proposer had, so one late vote can be missing from it.
func waitForSignature(ctx context.Context, c *client.Client, addr []byte, from int64, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for h := from; ; {
		height := h
		res, err := c.RPC().Commit(ctx, &height)
		if err == nil && res.Commit != nil {
			for _, sig := range res.Commit.Signatures {
				if sig.BlockIDFlag == cmttypes.BlockIDFlagCommit && bytes.Equal(sig.ValidatorAddress, addr) {
					return nil
				}
			}
			if res.CanonicalCommit {
				h++ // this block's commit is final without the new key: look at the next
				continue
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the new key has signed no block from %d on within %s", from, wait)
		case <-tick.C:
		}
	}
}

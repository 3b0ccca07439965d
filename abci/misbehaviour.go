package abci

import (
	cmtabci "github.com/cometbft/cometbft/abci/types"

	"github.com/consort-ledger/consort/app"
)

// Misbehaviour converts the evidence CometBFT hands FinalizeBlock into the
// ledger's terms. Unknown kinds keep CometBFT's name, so the ledger still
// acts on them and records what they were.
func Misbehaviour(ms []cmtabci.Misbehavior) []app.Misbehaviour {
	if len(ms) == 0 {
		return nil
	}
	out := make([]app.Misbehaviour, len(ms))
	for i, m := range ms {
		kind := m.Type.String()
		switch m.Type {
		case cmtabci.MisbehaviorType_DUPLICATE_VOTE:
			kind = "duplicate_vote"
		case cmtabci.MisbehaviorType_LIGHT_CLIENT_ATTACK:
			kind = "light_client_attack"
		}
		out[i] = app.Misbehaviour{Kind: kind, Address: m.Validator.Address, Height: m.Height}
	}
	return out
}

// logPunishments reports each misbehaviour and what the ledger did: an
// operator must hear of a validator losing its power at once.
func (a *Application) logPunishments(height int64, ps []app.Punishment) {
	for _, p := range ps {
		ev := a.log.Warn()
		if p.Applied {
			ev = a.log.Error()
		}
		ev.Int64("height", height).Str("validator", p.Validator).Hex("key", p.PublicKey).
			Str("misbehaviour", p.Reason).Bool("power_removed", p.Applied).Str("note", p.Note).
			Msg("validator misbehaviour committed")
		if p.Applied {
			a.metrics.ValidatorsPunished.Inc()
		}
	}
}

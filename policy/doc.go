// Package policy holds consort's permission rules as pure functions over
// ledger state: roles and the permissions they carry, role grants with an
// expiry height, governance approval by distinct organisations, pause rules
// (global or per asset, optionally until a height), and the safety checks a
// validator-set change must pass before it can halt the chain.
//
// The package stores nothing and decides nothing about encoding or result
// codes: the app package loads the state, asks policy, and maps the sentinel
// errors below onto its own result codes. Every function is deterministic —
// no map iteration feeds a result, no floats, no clock — and the package
// imports only the standard library (a test keeps it so).
//
// The rules in one place:
//
//   - A role is data: a name and a set of permissions, set in genesis and
//     changed by governance. DefaultRoles lists the built-in ones.
//   - A grant gives an account a role until an expiry height (0 = never). An
//     expired grant, or a grant of a role that no longer exists, gives
//     nothing.
//   - Holding a permission never lets one grant it onward. Granting a role is
//     a governance action: it needs PermManageRoles approvals from enough
//     organisations, like every other governance action.
//   - A governance action is approved when unfrozen accounts holding the
//     action's permission, from at least threshold distinct organisations,
//     signed it. Two approvers of one organisation count once.
//   - mint and burn are scoped to assets: holding the permission is not
//     enough, the account must also be listed as one of the asset's issuers.
//   - A pause (global, or of one asset) stops transfers, mints and burns of
//     what it covers while height < Until, or indefinitely when Until is 0.
//     Governance transactions are never paused.
//   - A validator-set change may not remove a third or more of the voting
//     power within one block, leave fewer validators than a minimum, remove a
//     validator that does not exist, or exceed CometBFT's total power limit.
//
// Which permission a governance action needs, and whether an operator owns
// the validator or node it manages, is the ledger's mapping; policy only
// answers whether the given accounts hold that permission.
package policy

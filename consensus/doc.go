// Package consensus assembles the CometBFT side of a consort node.
//
// It owns everything between the consort application and CometBFT:
//
//   - the node home: [InitHome] lays out config/, data/, the node key, the
//     validator key and genesis.json; [LoadConfig] reads it back;
//   - the in-process node: [NewNode] wires an ABCI application into a
//     CometBFT node and [Run] drives it until a context is cancelled;
//     before it opens the home, [ReindexRecent] re-indexes the last
//     committed heights (a kill between commit and indexing leaves a block
//     unindexed) and [Reindex] rebuilds any range offline;
//   - the validator signer: [Signer] is a PrivValidator over a
//     certs.KeyProvider (Vault transit) with FilePV's double-sign rules, a
//     durable local sign state, a watermark shared through a
//     certs.VersionedStore by every signer of one validator, and key
//     versions by height ([KeySchedule], [ScheduleKeyVersion]);
//     [NewNodeWithSigner] runs a node with it and [ServeSigner] serves it
//     to a node with priv_validator_laddr set (a remote signer);
//   - [ServeABCI], which serves the same application over CometBFT's socket
//     protocol so a stock `cometbft start` process can drive it;
//   - the logger bridge: [NewCometLogger] sends CometBFT's logs through the
//     same zerolog logger as the rest of consort, so one level and one format
//     govern both.
//
// Several CometBFT helpers (privval.LoadFilePV, config.WriteConfigFile) end
// the process on I/O errors. This package checks their inputs first, so a
// bad home becomes an error the caller can report instead of an exit.
package consensus

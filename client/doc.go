// Package client talks to a consort node through the plain CometBFT RPC: it
// reads state with abci_query, builds and signs transfers, broadcasts them
// and waits for the block that commits them. It is what the consort CLI
// uses, and a worked example for clients written in other languages.
package client

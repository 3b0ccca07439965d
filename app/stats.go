package app

import "strings"

// Stats are ledger-wide counts kept in state, so that every node reports
// the same numbers after a restart without scanning: unspent outputs and
// registered accounts. They are written once per block.
type Stats struct {
	UTXOs    uint64
	Accounts uint64
}

const keyStats = "stats"

func encodeStats(s Stats) []byte {
	var e encoder
	e.uint(1, s.UTXOs)
	e.uint(2, s.Accounts)
	return e.buf
}

// DecodeStats parses the value of a /stats query.
func DecodeStats(b []byte) (Stats, error) {
	var s Stats
	err := decodeFields(b, func(d *decoder, num int) (err error) {
		switch num {
		case 1:
			s.UTXOs, err = d.uint("stats.utxos")
		case 2:
			s.Accounts, err = d.uint("stats.accounts")
		default:
			err = unknownField("Stats", num)
		}
		return err
	})
	return s, err
}

// LoadStats reads the counts.
func LoadStats(r Reader) (Stats, error) {
	b, err := r.Get([]byte(keyStats))
	if err != nil {
		return Stats{}, internal(err, "stats")
	}
	s, err := DecodeStats(b)
	if err != nil {
		return Stats{}, internal(err, "stats")
	}
	return s, nil
}

// countingKV counts the unspent outputs and accounts its writes create and
// remove, to update Stats once per block instead of once per write.
type countingKV struct {
	KV
	utxos, accounts int64
}

func (c *countingKV) Set(k, v []byte) error {
	if strings.HasPrefix(string(k), prefixUTXO) {
		c.utxos++ // an outpoint is created once, never overwritten
	}
	return c.KV.Set(k, v)
}

func (c *countingKV) Delete(k []byte) error {
	if strings.HasPrefix(string(k), prefixUTXO) {
		c.utxos--
	}
	return c.KV.Delete(k)
}

// accountCreated is called by saveNewAccount.
func (c *countingKV) accountCreated() { c.accounts++ }

// flush adds the counted changes to the stored Stats.
func (c *countingKV) flush() error {
	if c.utxos == 0 && c.accounts == 0 {
		return nil
	}
	s, err := LoadStats(c.KV)
	if err != nil {
		return err
	}
	s.UTXOs = uint64(int64(s.UTXOs) + c.utxos)
	s.Accounts = uint64(int64(s.Accounts) + c.accounts)
	c.utxos, c.accounts = 0, 0
	if s == (Stats{}) {
		return c.KV.Delete([]byte(keyStats)) // absent = nothing counted: no empty records
	}
	return c.KV.Set([]byte(keyStats), encodeStats(s))
}

package app

// valueCache holds values of the last committed version by key, so that
// CheckTx, proposals and blocks read a coin, an account or the params
// from a map instead of walking the IAVL tree: a tree read visits some
// twenty nodes, each a lookup in IAVL's node cache or a leveldb read, and
// reads were most of what checking and executing a transfer cost
// (docs/benchmarks.md).
//
// It cannot change a result. It holds exactly what the tree holds at
// version: entries are filled from reads of that version, and Commit
// applies the block's writes (the overlay) as it saves the next version.
// A reader of another version does not use it. A nil value records that
// the key is absent (pause records, used txids: most transfers ask for
// keys that do not exist).
//
// It is bounded like sigCache: two generations of at most limit entries;
// when the current one fills up, the older one is dropped.
//
// Store.mu guards it.
type valueCache struct {
	version   int64
	limit     int
	cur, prev map[string][]byte
}

func newValueCache(limit int) *valueCache {
	return &valueCache{limit: max(1, limit), cur: map[string][]byte{}, prev: map[string][]byte{}}
}

// get returns the value of key at version, and whether the cache knows it.
func (c *valueCache) get(version int64, key []byte) ([]byte, bool) {
	if version != c.version {
		return nil, false
	}
	if v, ok := c.cur[string(key)]; ok {
		return v, true
	}
	v, ok := c.prev[string(key)]
	return v, ok
}

// add records what a read of version found at key.
func (c *valueCache) add(version int64, key, value []byte) {
	if version != c.version {
		return
	}
	c.put(string(key), value)
}

func (c *valueCache) put(key string, value []byte) {
	if len(c.cur) >= c.limit {
		c.prev, c.cur = c.cur, make(map[string][]byte, len(c.cur))
	}
	c.cur[key] = value
}

// advance applies a block's writes (nil value = deleted) and makes the
// cache describe version. A deleted key is dropped rather than recorded
// as absent: it is mostly a spent coin, which nobody reads again, and a
// read of it that misses finds it absent in the tree.
func (c *valueCache) advance(version int64, writes map[string][]byte) {
	for k, v := range writes { // order does not matter: each key once
		if v == nil {
			delete(c.cur, k)
			delete(c.prev, k)
			continue
		}
		c.put(k, v)
	}
	c.version = version
}

// reset empties the cache and makes it describe version.
func (c *valueCache) reset(version int64) {
	c.cur, c.prev, c.version = map[string][]byte{}, map[string][]byte{}, version
}

package learner

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
)

// candidate is one response remembered for a prompt, with its features.
type candidate struct {
	text string
	z    []float64 // z(x, y), featurizer.width() long
	seen uint64    // learner tick of the last event that mentioned it
}

// context is one prompt x and its candidate set C(x).
type context struct {
	key    string
	prompt string
	info   promptInfo
	cands  []candidate
}

// find returns the index of text in C(x), or −1.
func (c *context) find(text string) int {
	for i := range c.cands {
		if c.cands[i].text == text {
			return i
		}
	}
	return -1
}

// add inserts (or refreshes) a candidate; when C(x) already holds max
// responses, the least recently seen one is replaced. It returns the
// candidate's index.
func (c *context) add(text string, z []float64, tick uint64, max int) int {
	if i := c.find(text); i >= 0 {
		c.cands[i].seen = tick
		return i
	}
	cd := candidate{text: text, z: z, seen: tick}
	if len(c.cands) < max {
		c.cands = append(c.cands, cd)
		return len(c.cands) - 1
	}
	old := 0
	for i := range c.cands {
		if c.cands[i].seen < c.cands[old].seen {
			old = i
		}
	}
	c.cands[old] = cd
	return old
}

// contextCache is an LRU map from prompt key to context, bounded by max
// entries. Not safe for concurrent use.
type contextCache struct {
	max   int
	order *list.List // of *context, most recently used at the front
	index map[string]*list.Element
}

func newContextCache(max int) *contextCache {
	return &contextCache{max: max, order: list.New(), index: make(map[string]*list.Element)}
}

// get returns the context for key and marks it used, or nil.
func (cc *contextCache) get(key string) *context {
	e, ok := cc.index[key]
	if !ok {
		return nil
	}
	cc.order.MoveToFront(e)
	return e.Value.(*context)
}

// put inserts c as most recently used, evicting the oldest beyond max.
func (cc *contextCache) put(c *context) {
	cc.index[c.key] = cc.order.PushFront(c)
	for cc.order.Len() > cc.max {
		last := cc.order.Back()
		cc.order.Remove(last)
		delete(cc.index, last.Value.(*context).key)
	}
}

// oldestFirst lists the contexts from least to most recently used, the
// order in which putting them back rebuilds the same cache.
func (cc *contextCache) oldestFirst() []*context {
	out := make([]*context, 0, cc.order.Len())
	for e := cc.order.Back(); e != nil; e = e.Prev() {
		out = append(out, e.Value.(*context))
	}
	return out
}

// promptKey is the context key: the prompt id when the record has one,
// else a hash of the prompt text.
func promptKey(id, prompt string) string {
	if id != "" {
		return "id:" + id
	}
	h := sha256.Sum256([]byte(prompt))
	return "h:" + hex.EncodeToString(h[:16])
}

// peek returns the context for key without marking it used, or nil.
func (cc *contextCache) peek(key string) *context {
	if e, ok := cc.index[key]; ok {
		return e.Value.(*context)
	}
	return nil
}

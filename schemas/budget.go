package schemas

import (
	"errors"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BudgetAllocator is a memory.Allocator that refuses to hand out more than
// a fixed number of bytes in total. Allocate and Reallocate count the bytes
// they add; Free gives nothing back, so the budget bounds the work one
// message may cause, not just its peak.
//
// It also remembers every buffer it handed out and not yet freed, so that
// FreeAll can return what a failed Arrow read forgot to release.
//
// A negative size makes Allocate and Reallocate panic with an error that
// is not ErrAllocationBudget. Past the budget, they panic with a value wrapping
// ErrAllocationBudget, since the Allocator interface has no error result;
// the panic is meant to be recovered by the caller that owns the budget, as
// the Decoder does. Safe for concurrent use if the wrapped allocator is.
type BudgetAllocator struct {
	mem      memory.Allocator
	left     atomic.Int64
	exceeded atomic.Bool

	mu   sync.Mutex
	live map[*byte][]byte // protected by mu; buffers not yet freed, by address
}

// NewBudgetAllocator returns an allocator drawing from mem (nil means
// memory.DefaultAllocator) that allows limit bytes in total.
func NewBudgetAllocator(mem memory.Allocator, limit int64) *BudgetAllocator {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	b := &BudgetAllocator{mem: mem, live: make(map[*byte][]byte)}
	b.left.Store(limit)
	return b
}

// budgetPanic is the value BudgetAllocator panics with.
type budgetPanic struct{ want int }

func (p budgetPanic) Error() string { return ErrAllocationBudget.Error() }
func (p budgetPanic) Unwrap() error { return ErrAllocationBudget }

// errNegativeSize is the panic value for a negative request, which only
// a corrupt length produces; it is not counted as exceeding the budget.
var errNegativeSize = errors.New("negative allocation size")

func (b *BudgetAllocator) charge(n int) {
	if n < 0 {
		panic(errNegativeSize)
	}
	if b.left.Add(-int64(n)) < 0 {
		b.exceeded.Store(true)
		panic(budgetPanic{want: n})
	}
}

// Allocate implements memory.Allocator.
func (b *BudgetAllocator) Allocate(size int) []byte {
	b.charge(size)
	buf := b.mem.Allocate(size)
	b.track(nil, buf)
	return buf
}

// Reallocate implements memory.Allocator; growing charges the difference.
func (b *BudgetAllocator) Reallocate(size int, buf []byte) []byte {
	if size < 0 {
		panic(errNegativeSize)
	}
	if size > len(buf) {
		b.charge(size - len(buf))
	}
	out := b.mem.Reallocate(size, buf)
	b.track(buf, out)
	return out
}

// Free implements memory.Allocator.
func (b *BudgetAllocator) Free(buf []byte) {
	b.track(buf, nil)
	b.mem.Free(buf)
}

// track replaces old by new in the live set; empty buffers are not kept.
func (b *BudgetAllocator) track(old, new []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if cap(old) > 0 {
		delete(b.live, unsafe.SliceData(old[:1]))
	}
	if cap(new) > 0 {
		b.live[unsafe.SliceData(new[:1])] = new
	}
}

// FreeAll frees every buffer handed out and not freed yet, and returns how
// many there were. Call it only when nothing uses those buffers any more,
// after releasing every Arrow object built with b.
func (b *BudgetAllocator) FreeAll() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.live)
	for _, buf := range b.live {
		b.mem.Free(buf)
	}
	clear(b.live)
	return n
}

// Exceeded reports whether any request was refused.
func (b *BudgetAllocator) Exceeded() bool { return b.exceeded.Load() }

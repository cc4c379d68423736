package schemas

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/slhf-dev/slhf/data"
)

// hhPair is one HH-RLHF pair split into the shared context and the two
// final replies.
type hhPair struct{ prompt, chosen, rejected string }

var (
	hhOnce  sync.Once
	hhPairs []hhPair
	hhErr   error
)

// loadHH reads the bundled HH-RLHF test split (real text for realistic
// sizes and benchmarks).
func loadHH(tb testing.TB) []hhPair {
	tb.Helper()
	hhOnce.Do(func() { hhPairs, hhErr = readHH() })
	if hhErr != nil {
		tb.Fatalf("load hh-rlhf: %v", hhErr)
	}
	return hhPairs
}

func readHH() ([]hhPair, error) {
	f, err := data.Open(data.HHRLHF)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<20)
	var out []hhPair
	for sc.Scan() {
		var rec struct{ Chosen, Rejected string }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, err
		}
		const turn = "\n\nAssistant:"
		i, j := strings.LastIndex(rec.Chosen, turn), strings.LastIndex(rec.Rejected, turn)
		if i < 0 || j < 0 {
			continue
		}
		p := hhPair{
			prompt:   rec.Chosen[:i+len(turn)],
			chosen:   strings.TrimSpace(rec.Chosen[i+len(turn):]),
			rejected: strings.TrimSpace(rec.Rejected[j+len(turn):]),
		}
		if p.chosen != "" && p.rejected != "" {
			out = append(out, p)
		}
	}
	return out, sc.Err()
}

var baseTS = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func f32p(v float32) *float32 { return &v }
func i64p(v int64) *int64     { return &v }

// preferenceRows returns n valid rows built from real pairs; every third
// row carries the optional fields; dim > 0 adds embeddings.
func preferenceRows(tb testing.TB, n, dim int) []Preference {
	pairs := loadHH(tb)
	rows := make([]Preference, n)
	for i := range rows {
		p := pairs[i%len(pairs)]
		rows[i] = Preference{
			EventID: fmt.Sprintf("hh-%06d", i), TS: baseTS.Add(time.Duration(i) * time.Second),
			Prompt: p.prompt, ResponseA: p.chosen, ResponseB: p.rejected, Preference: 1,
		}
		if i%3 == 0 {
			r := &rows[i]
			r.PromptID, r.ModelA, r.ModelB = fmt.Sprintf("p%d", i), "m-a", "m-b"
			r.RoleA, r.RoleB = RoleLeader, RoleFollower
			r.ProbA, r.ProbB, r.Weight = f32p(0.25), f32p(0.5), f32p(2)
			r.PolicyVersion, r.Annotator = i64p(int64(i)), "anno-7f3a"
			r.Preference = 0.5
		}
		if dim > 0 && i%2 == 0 {
			rows[i].PromptEmbedding = ramp(dim, i)
			rows[i].EmbeddingA = ramp(dim, i+1)
			rows[i].EmbeddingB = ramp(dim, i+2)
		}
	}
	return rows
}

func ramp(dim, seed int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(seed) + float32(i)/float32(dim)
	}
	return v
}

func responseRows(tb testing.TB, n, dim int) []Response {
	pairs := loadHH(tb)
	rows := make([]Response, n)
	for i := range rows {
		p := pairs[i%len(pairs)]
		rows[i] = Response{
			RequestID: fmt.Sprintf("req-%d", i), TS: baseTS.Add(time.Duration(i) * time.Millisecond),
			Prompt: p.prompt, Response: p.rejected,
		}
		if i%2 == 0 {
			rows[i].Candidates = []string{p.chosen, "I can't help with that."}
			rows[i].Model = "m-b"
		}
		if dim > 0 && i%2 == 1 {
			rows[i].PromptEmbedding, rows[i].ResponseEmbedding = ramp(dim, i), ramp(dim, -i)
		}
	}
	return rows
}

func refinedRows(tb testing.TB, n int) []Refined {
	pairs := loadHH(tb)
	rows := make([]Refined, n)
	for i := range rows {
		p := pairs[i%len(pairs)]
		rows[i] = Refined{
			RequestID: fmt.Sprintf("req-%d", i), TS: baseTS, Prompt: p.prompt,
			Original: p.rejected, Refined: p.chosen, Rounds: int32(i % 4), Changed: i%4 != 0,
			FollowerProb: 0.75, ModelVersion: 42, LatencyUS: int64(100 + i), Reason: "kept",
		}
	}
	return rows
}

// checkedAlloc returns an allocator that fails tb if anything is left
// allocated when the test ends.
func checkedAlloc(tb testing.TB) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	tb.Cleanup(func() {
		if n := mem.CurrentAlloc(); n != 0 {
			tb.Errorf("arrow allocator: %d bytes still allocated", n)
		}
	})
	return mem
}

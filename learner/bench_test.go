package learner

import (
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/slhf-dev/slhf/schemas"
)

// BenchmarkLearn measures Learn on 64-event batches of PandaLM text with
// the default configuration (hash encoder, 256 buckets, 32 hidden units,
// model payoff, exact estimator). Run with -cpu 1 for the one-core figure.
func BenchmarkLearn(b *testing.B) {
	evs := pandaEvents(loadPanda(b))
	for _, ad := range []string{AutodiffGorgonia, AutodiffPlain} {
		b.Run(ad, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Autodiff = ad
			m := newTestModel(b, cfg)
			learnAll(b, m, evs, 64) // warm the context cache
			const batch = 64
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				off := (i * batch) % (len(evs) - batch)
				if _, err := m.Learn(evs[off : off+batch]); err != nil {
					b.Fatal(err)
				}
			}
			reportRates(b, "events", float64(b.N*batch), cpuTime()-cpu0)
		})
	}
}

// BenchmarkRefine measures Snapshot.Refine with 8 candidates (the
// response plus 7 alternatives of real text) and up to 4 rounds, on a
// model trained on PandaLM; it reports throughput and p99 latency.
func BenchmarkRefine(b *testing.B) {
	pairs := loadPanda(b)
	m := newTestModel(b, DefaultConfig())
	learnAll(b, m, pandaEvents(pairs), 64)
	s := m.Snapshot()
	reqs := refineRequests(pairs, 200)
	lat := make([]time.Duration, 0, 1<<16)
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		s.Refine(reqs[i%len(reqs)], 4)
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(start))
		}
	}
	reportRates(b, "responses", float64(b.N), cpuTime()-cpu0)
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// refineRequests builds n requests: a PandaLM prompt, one of its
// responses and seven other answers (its pair and answers to nearby rows).
func refineRequests(pairs []pandaPair, n int) []schemas.Response {
	reqs := make([]schemas.Response, n)
	for i := range reqs {
		p := pairs[i%len(pairs)]
		cands := []string{p.b}
		for k := 1; len(cands) < 7; k++ {
			cands = append(cands, pairs[(i+k)%len(pairs)].a)
		}
		reqs[i] = schemas.Response{RequestID: fmt.Sprint(i), Prompt: p.prompt,
			Response: p.a, Candidates: cands}
	}
	return reqs
}

// BenchmarkScorerGradient compares one gradient computation (forward and
// backward) of the Follower network at the default sizes (input 2·261+1,
// 32 hidden units, one padded block of 128 rows) in gorgonia and in the
// hand-written gonum version.
func BenchmarkScorerGradient(b *testing.B) {
	const rows = 128
	s, p, x, g := randomMLP(1, 2*(256+numScalars)+1, 32, rows)
	grad := make([]float64, s.size())
	b.Run("gorgonia", func(b *testing.B) {
		gs, err := newGraphScorer(s, rows, p)
		if err != nil {
			b.Fatal(err)
		}
		defer gs.Close()
		cpu0 := cpuTime()
		for b.Loop() {
			if err := gs.accumulate(x, rows, g, grad); err != nil {
				b.Fatal(err)
			}
		}
		reportRates(b, "steps", float64(b.N), cpuTime()-cpu0)
	})
	b.Run("plain", func(b *testing.B) {
		be := plainBackend{pass: newMLPPass(s, rows), params: p}
		cpu0 := cpuTime()
		for b.Loop() {
			_ = be.accumulate(x, rows, g, grad)
		}
		reportRates(b, "steps", float64(b.N), cpuTime()-cpu0)
	})
}

// reportRates reports n per wall second and per CPU second of this
// process. On a shared machine the wall figure drops whenever another
// process holds the core; the CPU figure is the one-core throughput.
func reportRates(b *testing.B, unit string, n float64, cpu time.Duration) {
	b.ReportMetric(n/b.Elapsed().Seconds(), unit+"/s")
	if cpu > 0 {
		b.ReportMetric(n/cpu.Seconds(), unit+"/cpu-s")
	}
}

// cpuTime is the user plus system CPU time consumed by this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slhf-dev/slhf/learner/game"
)

const cycleMatrix = `{"actions": ["A","B","C"],
 "p": [[0.5, 0.6666667, 0.3333333], [0.3333333, 0.5, 0.6666667], [0.6666667, 0.3333333, 0.5]]}`

func TestDecodeMatrix(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // substring of the error; "" = valid
		kind     error
	}{
		{"cycle", cycleMatrix, "", nil},
		{"unknown key", `{"actions": ["A"], "p": [[0.5]], "q": 1}`, "unknown field", nil},
		{"trailing", `{"actions": ["A"], "p": [[0.5]]} {}`, "trailing data", nil},
		{"count", `{"actions": ["A","B"], "p": [[0.5]]}`, "2 actions but 1 rows", nil},
		{"repeated name", `{"actions": ["A","A"], "p": [[0.5,0.5],[0.5,0.5]]}`, "repeated", nil},
		{"ragged", `{"actions": ["A","B"], "p": [[0.5,0.5],[0.5]]}`, "row 1", game.ErrNotSquare},
		{"range", `{"actions": ["A","B"], "p": [[0.5,1.5],[-0.5,0.5]]}`, "entry [0][1]", game.ErrOutOfRange},
		{"not complementary", `{"actions": ["A","B"], "p": [[0.5,0.9],[0.9,0.5]]}`, "entry [0][1]", game.ErrNotComplementary},
		{"empty", `{"actions": [], "p": []}`, "no actions", game.ErrEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeMatrix([]byte(tt.in))
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
			if tt.kind != nil && !errors.Is(err, tt.kind) {
				t.Fatalf("err = %v, want errors.Is %v", err, tt.kind)
			}
		})
	}
}

// TestAnalyzeMatrixJSON runs the command on the equal-share cycle and
// checks the published numbers (tolerance 1e-3, the input has 7 digits).
func TestAnalyzeMatrixJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cycle.json")
	if err := os.WriteFile(path, []byte(cycleMatrix), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := newAnalyzeCmd()
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--matrix", path, "--json"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Condorcet *string     `json:"condorcet_winner"`
		Cycles    [][3]string `json:"cycles"`
		SLHF      struct {
			Leader   []float64   `json:"leader"`
			Follower [][]float64 `json:"follower"`
			Value    []float64   `json:"value"`
		} `json:"slhf"`
		NLHF struct{ Policy []float64 }          `json:"nlhf"`
		RLHF struct{ Rewards, Policy []float64 } `json:"rlhf"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if got.Condorcet != nil || len(got.Cycles) != 1 || got.Cycles[0] != [3]string{"A", "B", "C"} {
		t.Errorf("winner %v, cycles %v; want none and [A B C]", got.Condorcet, got.Cycles)
	}
	wantFollow := []float64{0.154, 0.029, 0.817}
	for j, w := range wantFollow {
		if math.Abs(got.SLHF.Follower[0][j]-w) > 1e-3 {
			t.Errorf("ω*(%d|A) = %.4f, want %.3f", j, got.SLHF.Follower[0][j], w)
		}
	}
	for i := range 3 {
		for name, v := range map[string]float64{
			"slhf leader": got.SLHF.Leader[i], "nash": got.NLHF.Policy[i], "rlhf": got.RLHF.Policy[i],
		} {
			if math.Abs(v-1.0/3) > 1e-3 {
				t.Errorf("%s[%d] = %.4f, want 1/3", name, i, v)
			}
		}
		if math.Abs(got.SLHF.Value[i]-0.4229) > 1e-3 {
			t.Errorf("V[%d] = %.4f, want 0.4229", i, got.SLHF.Value[i])
		}
	}
}

func TestAnalyzeFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "exactly one of"},
		{[]string{"--matrix", "x", "--data", "y"}, "exactly one of"},
		{[]string{"--matrix", "x", "--tau-leader", "0"}, "must be > 0"},
		{[]string{"--data", "x", "--format", "nope"}, "unknown dataset format"},
		{[]string{"--matrix", "/nonexistent/m.json"}, "read matrix"},
	}
	for _, tt := range tests {
		cmd := newAnalyzeCmd()
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		cmd.SetArgs(tt.args)
		if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want %q", tt.args, err, tt.want)
		}
	}
}

// FuzzDecodeMatrix: decodeMatrix never panics, and whatever it accepts
// the solvers can run on without producing NaN.
func FuzzDecodeMatrix(f *testing.F) {
	f.Add([]byte(cycleMatrix))
	f.Add([]byte(`{"actions": ["A","B"], "p": [[0.5,1],[0,0.5]]}`))
	f.Add([]byte(`{"actions": ["A"], "p": [[0.5]]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeMatrix(data)
		if err != nil || len(m.P) > 12 {
			return
		}
		rep, err := matrixReport(m, game.DefaultAnalyzeOptions())
		if err != nil {
			return
		}
		for _, v := range append(append([]float64{}, rep.SLHF.Leader...), rep.NLHF.Policy...) {
			if math.IsNaN(v) {
				t.Fatalf("NaN policy for %s", data)
			}
		}
	})
}

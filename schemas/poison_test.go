package schemas

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/ipc"
)

// The poison survey flips one byte of the first KiB of a valid message,
// 2,000 times, and feeds each corruption to (a) Arrow's IPC reader used
// naively and (b) our Decoder, each in a child process whose address space
// is capped, so that a corruption that kills the process kills only the
// child. The parent restarts the child after the case that killed it.
//
//	SLHF_POISON_SURVEY=1 go test ./schemas -run TestPoisonSurvey -v
//
// With -update it also saves the first killers into testdata/poison.

const (
	surveyCases = 2000
	surveySpan  = 1024
	childLimit  = 3 << 30 // RLIMIT_AS of a child, bytes
	bigAlloc    = 1 << 30 // an allocation above this counts as a near-kill
	envChild    = "SLHF_POISON_CHILD"
)

// surveyBase is the valid message the survey corrupts: 50 HH-RLHF rows.
func surveyBase(tb testing.TB) []byte {
	msgs, err := EncodePreferences(preferenceRows(tb, 50, 0), 0)
	if err != nil || len(msgs) != 1 {
		tb.Fatalf("encode survey base: %v", err)
	}
	return msgs[0]
}

// corruption returns case i: base with one byte of its first KiB changed.
func corruption(base []byte, i int) (msg []byte, pos int, val byte) {
	rng := rand.New(rand.NewPCG(2026, uint64(i)))
	pos = rng.IntN(min(surveySpan, len(base)))
	val = base[pos] ^ byte(1+rng.IntN(255))
	msg = bytes.Clone(base)
	msg[pos] = val
	return msg, pos, val
}

// rawRead reads msg the way a naive consumer would: the default reader,
// every record batch, no schema check.
func rawRead(msg []byte) (outcome string) {
	defer func() {
		if p := recover(); p != nil {
			outcome = "panic"
		}
	}()
	r, err := ipc.NewReader(bytes.NewReader(msg))
	if err != nil {
		return "error"
	}
	defer r.Release()
	for r.Next() {
	}
	if r.Err() != nil {
		return "error"
	}
	return "ok"
}

func decoderRead(msg []byte) string {
	var d Decoder
	_, err := d.DecodePreferences(msg)
	if err == nil {
		return "ok"
	}
	var de *DecodeError
	if !errors.As(err, &de) {
		return "untyped-error"
	}
	return string(de.Reason)
}

// TestPoisonChild is the child half of the survey; it runs only when
// re-executed by TestPoisonSurvey.
func TestPoisonChild(t *testing.T) {
	mode := os.Getenv(envChild)
	if mode == "" || os.Getenv(envChild+"_FILE") != "" {
		t.Skip("survey child; run TestPoisonSurvey")
	}
	capAddressSpace(t)
	base, err := os.ReadFile(os.Getenv(envChild + "_BASE"))
	if err != nil {
		t.Fatal(err)
	}
	start, _ := strconv.Atoi(os.Getenv(envChild + "_START"))
	read := rawRead
	if mode == "decoder" {
		read = decoderRead
	}
	w := bufio.NewWriter(os.Stdout)
	for i := start; i < surveyCases; i++ {
		msg, _, _ := corruption(base, i)
		fmt.Fprintf(w, "start %d\n", i)
		w.Flush()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		outcome := read(msg)
		runtime.ReadMemStats(&after)
		fmt.Fprintf(w, "done %d %s %d\n", i, outcome, after.TotalAlloc-before.TotalAlloc)
	}
	w.Flush()
}

func capAddressSpace(t *testing.T) {
	if os.Getenv(envChild+"_UNCAPPED") != "" || raceEnabled {
		// Uncapped, the poison files still die: the kernel refuses their
		// 100+ GiB requests on its own.
		return
	}
	lim := syscall.Rlimit{Cur: childLimit, Max: childLimit}
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &lim); err != nil {
		t.Fatalf("setrlimit: %v", err)
	}
	debug.SetMemoryLimit(childLimit / 2)
}

// survey is what one mode of the survey saw.
type survey struct {
	outcomes map[string]int
	killed   []int // cases that killed the child
	hung     []int // cases the child did not finish within a minute
	big      []int // cases that allocated more than bigAlloc and survived
}

func TestPoisonSurvey(t *testing.T) {
	if os.Getenv("SLHF_POISON_SURVEY") == "" || raceEnabled {
		t.Skip("set SLHF_POISON_SURVEY=1, without -race, to run the survey")
	}
	base := surveyBase(t)
	basePath := filepath.Join(t.TempDir(), "base.arrow")
	if err := os.WriteFile(basePath, base, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"raw", "decoder"} {
		s := runSurvey(t, mode, basePath)
		report(t, mode, s)
		if mode == "raw" && *update {
			savePoison(t, base, s)
		}
		if mode == "decoder" && len(s.killed)+len(s.hung) > 0 {
			t.Errorf("decoder died on %v and hung on %v", s.killed, s.hung)
		}
	}
}

func runSurvey(t *testing.T, mode, basePath string) survey {
	s := survey{outcomes: map[string]int{}}
	for start := 0; start < surveyCases; {
		last, done := runChild(t, mode, basePath, start, &s)
		if done {
			break
		}
		start = last + 1
	}
	return s
}

// runChild runs one child from case start; it returns the last case
// started and whether the child reached the end.
func runChild(t *testing.T, mode, basePath string, start int, s *survey) (int, bool) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestPoisonChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envChild+"="+mode, envChild+"_BASE="+basePath,
		envChild+"_START="+strconv.Itoa(start))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	last, finished := watch(cmd, lines, s)
	waitErr := cmd.Wait()
	switch {
	case finished == surveyCases-1:
		return last, true
	case last > finished && waitErr != nil && !s.hungOn(last):
		s.killed = append(s.killed, last)
		t.Logf("%s: case %d killed the child: %s", mode, last, firstLine(stderr.String()))
	case last <= finished:
		t.Fatalf("%s child stopped after case %d: %v\n%s", mode, finished, err, stderr.String())
	}
	return last, false
}

// watch reads the child's progress until it exits or stalls for a minute.
func watch(cmd *exec.Cmd, lines <-chan string, s *survey) (last, finished int) {
	last, finished = -1, -1
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				return last, finished
			}
			f := strings.Fields(line)
			if len(f) < 2 || (f[0] != "start" && len(f) != 4) {
				continue // the test framework's own lines
			}
			i, _ := strconv.Atoi(f[1])
			if f[0] == "start" {
				last = i
				continue
			}
			finished = i
			s.outcomes[f[2]]++
			if n, _ := strconv.ParseUint(f[3], 10, 64); n > bigAlloc {
				s.big = append(s.big, i)
			}
		case <-time.After(time.Minute):
			s.hung = append(s.hung, last)
			cmd.Process.Kill()
			for range lines {
			}
			return last, finished
		}
	}
}

func (s *survey) hungOn(i int) bool {
	return len(s.hung) > 0 && s.hung[len(s.hung)-1] == i
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

func report(t *testing.T, mode string, s survey) {
	keys := make([]string, 0, len(s.outcomes))
	for k := range s.outcomes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, s.outcomes[k]))
	}
	t.Logf("%s: killed=%d hung=%d allocated>1GiB=%d; %s", mode, len(s.killed),
		len(s.hung), len(s.big), strings.Join(parts, " "))
	t.Logf("%s: killers %v; big %v", mode, s.killed, s.big)
}

// savePoison writes the first three killing corruptions to testdata/poison.
func savePoison(t *testing.T, base []byte, s survey) {
	if err := os.MkdirAll("testdata/poison", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, i := range s.killed[:min(3, len(s.killed))] {
		msg, pos, val := corruption(base, i)
		name := fmt.Sprintf("testdata/poison/survey-case%04d-byte%d-0x%02x.arrow", i, pos, val)
		if err := os.WriteFile(name, msg, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPoisonFiles checks every file of testdata/poison in child processes
// with a 3 GiB address-space cap: Arrow's reader used naively must die on
// it (so that crash-loop tests built on these files test something), and
// our Decoder must survive it and reject it.
func TestPoisonFiles(t *testing.T) {
	if os.Getenv(envChild) != "" {
		t.Skip("inside a survey child")
	}
	files, _ := filepath.Glob("testdata/poison/*.arrow")
	if len(files) == 0 {
		t.Fatal("no poison files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			out, err := runFileChild(f, "raw")
			if err == nil || !strings.Contains(out, "out of memory") {
				t.Errorf("raw Arrow reader survived (err %v): %s", err, firstLine(out))
			}
			out, err = runFileChild(f, "decoder")
			if err != nil || !strings.Contains(out, "reason corrupt_ipc") {
				t.Errorf("decoder: err %v, output %s", err, firstLine(out))
			}
		})
	}
}

func runFileChild(path, mode string) (string, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestPoisonFileChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envChild+"="+mode, envChild+"_FILE="+path)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestPoisonFileChild is the child half of TestPoisonFiles.
func TestPoisonFileChild(t *testing.T) {
	path := os.Getenv(envChild + "_FILE")
	if path == "" {
		t.Skip("child of TestPoisonFiles")
	}
	capAddressSpace(t)
	msg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv(envChild) == "raw" {
		fmt.Println("raw", rawRead(msg))
		return
	}
	fmt.Println("reason", decoderRead(msg))
}

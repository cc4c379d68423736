package datasets

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slhf-dev/slhf/schemas"
)

// epoch is the TS of the first row of every read; row i gets epoch + i ms.
var epoch = time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC)

// ReadPreferences reads the preference rows of format from path, a file or
// folder on disk (see the package documentation). It is LoadPreferences
// without the Stats. Safe for concurrent use; the caller owns the result.
func ReadPreferences(path string, format Format) ([]schemas.Preference, error) {
	fsys, name, err := diskFS(path)
	if err != nil {
		return nil, fmt.Errorf("read %s preferences: %w", format, err)
	}
	rows, _, err := LoadPreferences(fsys, name, format)
	return rows, err
}

// ReadResponses reads the response rows of format from path, a file or
// folder on disk (see the package documentation). It is LoadResponses
// without the Stats. Safe for concurrent use; the caller owns the result.
func ReadResponses(path string, format Format) ([]schemas.Response, error) {
	fsys, name, err := diskFS(path)
	if err != nil {
		return nil, fmt.Errorf("read %s responses: %w", format, err)
	}
	rows, _, err := LoadResponses(fsys, name, format)
	return rows, err
}

// DecodePreferences decodes one file of format read from r. source names
// the input in EventIDs and errors; empty means the first 12 hex digits of
// the SHA-256 of the bytes, which is what LoadPreferences uses, so both
// give a file the same ids. Only formats held in one file are supported
// (hh-rlhf, pandalm, mt-bench, llmbar, alpaca-eval); arena and
// vicuna-bench return an error wrapping ErrUnsupported. Skip counts are
// discarded: use LoadPreferences on an fs.FS to get them.
func DecodePreferences(r io.Reader, format Format, source string) ([]schemas.Preference, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("decode %s preferences: %w", format, err)
	}
	src := originOf("<stream>", data)
	if source != "" {
		src = origin{name: source, tag: source}
	}
	rows, _, err := decodeFilePrefs(data, format, src)
	if err != nil {
		return nil, fmt.Errorf("decode %s preferences: %w", format, err)
	}
	stamp(rows)
	return rows, nil
}

// LoadPreferences reads the preference rows of format from name, a file or
// folder in fsys (slash-separated, as io/fs wants), and accounts for every
// record in the returned Stats. Safe for concurrent use if fsys is; the
// caller owns the result.
func LoadPreferences(fsys fs.FS, name string, format Format) ([]schemas.Preference, Stats, error) {
	rows, st, err := loadPrefs(fsys, name, format)
	if err != nil {
		return nil, st, fmt.Errorf("load %s preferences from %s: %w", format, name, err)
	}
	stamp(rows)
	st.Emitted = len(rows)
	return rows, st, nil
}

// LoadResponses reads the response rows of format from name, a file or
// folder in fsys, and accounts for every answer in the returned Stats.
// Only arena, alpaca-eval and vicuna-bench hold responses; other formats
// return an error wrapping ErrUnsupported. Safe for concurrent use if fsys
// is; the caller owns the result.
func LoadResponses(fsys fs.FS, name string, format Format) ([]schemas.Response, Stats, error) {
	rows, st, err := loadResponses(fsys, name, format)
	if err != nil {
		return nil, st, fmt.Errorf("load %s responses from %s: %w", format, name, err)
	}
	for i := range rows {
		rows[i].TS = epoch.Add(time.Duration(i) * time.Millisecond)
	}
	st.Emitted = len(rows)
	return rows, st, nil
}

func loadPrefs(fsys fs.FS, name string, format Format) ([]schemas.Preference, Stats, error) {
	switch format {
	case HHRLHF, PandaLM, MTBench:
		return loadFilePrefs(fsys, name, format)
	case LLMBar:
		return loadTreePrefs(fsys, name, format, "dataset.json")
	case AlpacaEval:
		return loadTreePrefs(fsys, name, format, "annotations.json")
	case Arena:
		return arenaPreferences(fsys, name)
	case VicunaBench:
		return vicunaPreferences(fsys, name)
	}
	return nil, Stats{}, ErrUnknownFormat
}

func loadResponses(fsys fs.FS, name string, format Format) ([]schemas.Response, Stats, error) {
	switch format {
	case Arena:
		return arenaResponses(fsys, name)
	case AlpacaEval:
		return alpacaResponses(fsys, name)
	case VicunaBench:
		return vicunaResponses(fsys, name)
	case HHRLHF, PandaLM, MTBench, LLMBar:
		return nil, Stats{}, ErrUnsupported
	}
	return nil, Stats{}, ErrUnknownFormat
}

// decodeFilePrefs decodes one file of a single-file format.
func decodeFilePrefs(data []byte, format Format, src origin) ([]schemas.Preference, Stats, error) {
	switch format {
	case HHRLHF:
		return decodeHH(data, src)
	case PandaLM:
		return decodePandaLM(data, src)
	case MTBench:
		return decodeMTBench(data, src)
	case LLMBar:
		return decodeLLMBar(data, src)
	case AlpacaEval:
		return decodeAlpacaAnnotations(data, src)
	case Arena, VicunaBench:
		return nil, Stats{}, fmt.Errorf("%s needs a folder: %w", format, ErrUnsupported)
	}
	return nil, Stats{}, ErrUnknownFormat
}

func loadFilePrefs(fsys fs.FS, name string, format Format) ([]schemas.Preference, Stats, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, Stats{}, err
	}
	return decodeFilePrefs(data, format, originOf(name, data))
}

// loadTreePrefs decodes name if it is a file, or else every file called
// base below the folder name, in lexical path order. The rows of a file
// byte-identical to an earlier one are skipped as SkipDuplicate.
func loadTreePrefs(
	fsys fs.FS, name string, format Format, base string,
) ([]schemas.Preference, Stats, error) {
	files, err := findFiles(fsys, name, base)
	if err != nil {
		return nil, Stats{}, err
	}
	var (
		rows []schemas.Preference
		st   Stats
		seen = map[string]bool{}
	)
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, st, err
		}
		src := originOf(f, data)
		got, fst, err := decodeFilePrefs(data, format, src)
		if err != nil {
			return nil, st, err
		}
		st.merge(fst)
		if seen[src.tag] {
			// A byte-identical copy would repeat the ids of the first.
			st.Skipped = addCounts(st.Skipped, map[string]int{SkipDuplicate: len(got)})
			continue
		}
		seen[src.tag] = true
		rows = append(rows, got...)
	}
	return rows, st, nil
}

// findFiles returns name itself if it is a file, or else every file called
// base below the folder name, in lexical order. No match is an error.
func findFiles(fsys fs.FS, name, base string) ([]string, error) {
	info, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{name}, nil
	}
	var files []string
	err = fs.WalkDir(fsys, name, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == base {
			files = append(files, p)
		}
		return err
	})
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("no %s below %s: %w", base, name, fs.ErrNotExist)
	}
	return files, err
}

// listFiles returns the regular files directly in dir whose names end in
// suffix, in lexical order.
func listFiles(fsys fs.FS, dir, suffix string) ([]string, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), suffix) {
			files = append(files, path.Join(dir, e.Name()))
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *%s in %s: %w", suffix, dir, fs.ErrNotExist)
	}
	return files, nil
}

// isDir reports whether name is a folder in fsys.
func isDir(fsys fs.FS, name string) (bool, error) {
	info, err := fs.Stat(fsys, name)
	if err != nil {
		return false, err
	}
	return info.IsDir(), nil
}

// diskFS turns a path on disk into a file system rooted at its volume and
// the slash-separated name of the path inside it.
func diskFS(p string) (fs.FS, string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, "", err
	}
	vol := filepath.VolumeName(abs)
	sep := string(filepath.Separator)
	name := strings.TrimPrefix(abs[len(vol):], sep)
	if name == "" {
		name = "."
	}
	return os.DirFS(vol + sep), filepath.ToSlash(name), nil
}

// origin identifies one input file: name for errors, tag for ids.
type origin struct {
	name string
	tag  string
}

// originOf names data read from name; the tag is a digest of the bytes.
func originOf(name string, data []byte) origin {
	return origin{name: name, tag: digest(data)}
}

func (o origin) errorf(index int, format string, args ...any) error {
	return &RecordError{Source: o.name, Index: index, Err: fmt.Errorf(format, args...)}
}

func (o origin) wrap(index int, err error) error {
	return &RecordError{Source: o.name, Index: index, Err: err}
}

// id is the EventID or RequestID of record index of this origin.
func (o origin) id(format Format, index int) string {
	return string(format) + "/" + o.tag + "/" + strconv.Itoa(index)
}

// digest is the first 12 hex digits of the SHA-256 of data.
func digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:6])
}

// promptID keys a prompt text under format.
func promptID(format Format, parts ...string) string {
	return string(format) + ":" + digest([]byte(strings.Join(parts, "\x00")))
}

// hashAnnotator returns the hashed annotator id: 16 hex digits of the
// SHA-256 of the raw id.
func hashAnnotator(raw string) string {
	if raw == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("slhf-annotator\x00" + raw))
	return hex.EncodeToString(sum[:8])
}

// swapped reports whether row index shows its pair in reverse source order:
// the low bit of the SplitMix64 hash of index (Steele, Lea & Flood 2014).
func swapped(index int) bool {
	z := uint64(index) + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return (z^(z>>31))&1 == 1
}

// stamp sets TS of row i to epoch + i ms.
func stamp(rows []schemas.Preference) {
	for i := range rows {
		rows[i].TS = epoch.Add(time.Duration(i) * time.Millisecond)
	}
}

// eachJSONLine decodes successive JSON values of data into a fresh T and
// calls fn with each and its 0-based index.
func eachJSONLine[T any](data []byte, src origin, fn func(i int, v *T) error) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	for i := 0; ; i++ {
		v := new(T)
		err := dec.Decode(v)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return src.wrap(i, err)
		}
		if err := fn(i, v); err != nil {
			return err
		}
	}
}

// decodeList decodes data, a JSON list, into a slice of T.
func decodeList[T any](data []byte, src origin) ([]T, error) {
	var list []T
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("%s: %w", src.name, err)
	}
	return list, nil
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

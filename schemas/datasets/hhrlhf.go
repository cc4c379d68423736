package datasets

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"

	"github.com/slhf-dev/slhf/schemas"
)

// hhTurn opens the assistant turn that ends every HH-RLHF dialogue.
const hhTurn = "\n\nAssistant:"

type hhRecord struct {
	Chosen   *string `json:"chosen"`
	Rejected *string `json:"rejected"`
}

// decodeHH decodes HH-RLHF JSON lines, gzipped or plain.
func decodeHH(data []byte, src origin) ([]schemas.Preference, Stats, error) {
	plain, err := gunzipMaybe(data)
	if err != nil {
		return nil, Stats{}, err
	}
	var (
		rows []schemas.Preference
		st   Stats
	)
	err = eachJSONLine(plain, src, func(i int, r *hhRecord) error {
		st.Records++
		p, ok, err := hhPreference(r, src, i, &st)
		if ok {
			rows = append(rows, p)
		}
		return err
	})
	return rows, st, err
}

// hhPreference turns one record into a row; ok is false for a skipped pair.
func hhPreference(
	r *hhRecord, src origin, i int, st *Stats,
) (p schemas.Preference, ok bool, err error) {
	if r.Chosen == nil || r.Rejected == nil {
		return p, false, src.errorf(i, "want string fields chosen and rejected")
	}
	ctxC, replyC, okC := splitFinalReply(*r.Chosen)
	ctxR, replyR, okR := splitFinalReply(*r.Rejected)
	if !okC || !okR {
		return p, false, src.errorf(i, "dialogue has no %q turn", hhTurn)
	}
	if ctxC != ctxR {
		st.skip(SkipContextMismatch)
		return p, false, nil
	}
	if replyC == "" || replyR == "" {
		st.note(NoteEmptyResponse)
	}
	p = schemas.Preference{
		EventID: src.id(HHRLHF, i), Prompt: ctxC, PromptID: promptID(HHRLHF, ctxC),
		ResponseA: replyC, ResponseB: replyR, Preference: 1,
		RoleA: schemas.RoleExternal, RoleB: schemas.RoleExternal,
	}
	if swapped(i) {
		swapPair(&p)
		st.note(NoteSwapped)
	}
	return p, true, nil
}

// splitFinalReply splits a dialogue at its last assistant turn into the
// context (leading newlines removed) and the reply (spaces trimmed).
func splitFinalReply(dialogue string) (context, reply string, ok bool) {
	at := strings.LastIndex(dialogue, hhTurn)
	if at < 0 {
		return "", "", false
	}
	context = strings.TrimLeft(dialogue[:at], "\n")
	reply = strings.TrimSpace(dialogue[at+len(hhTurn):])
	return context, reply, true
}

// swapPair exchanges A and B and flips the preference.
func swapPair(p *schemas.Preference) {
	p.ResponseA, p.ResponseB = p.ResponseB, p.ResponseA
	p.ModelA, p.ModelB = p.ModelB, p.ModelA
	p.RoleA, p.RoleB = p.RoleB, p.RoleA
	p.Preference = 1 - p.Preference
}

// gunzipMaybe returns data, inflated first if it starts with the gzip
// magic bytes.
func gunzipMaybe(data []byte) ([]byte, error) {
	if !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		return data, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	plain, err := io.ReadAll(zr)
	return plain, errors.Join(err, zr.Close())
}

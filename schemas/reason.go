package schemas

import (
	"errors"
	"fmt"
)

// Reason names why a message was rejected. Its value is a short snake_case
// word, stable across releases, used as a Prometheus label value and as the
// "reason" header of a dead-lettered message.
type Reason string

// Reasons the Decoder reports. Every rejection carries exactly one of them.
const (
	// ReasonEmptyMessage: the message is zero bytes long or holds no rows.
	ReasonEmptyMessage Reason = "empty_message"
	// ReasonOversizedMessage: the message is longer than Limits.MaxMessageBytes.
	ReasonOversizedMessage Reason = "oversized_message"
	// ReasonOversizedAllocation: decoding would allocate more than the
	// per-message budget (see Limits.AllocationFactor).
	ReasonOversizedAllocation Reason = "oversized_allocation"
	// ReasonCorruptIPC: the bytes are not a well-formed Arrow IPC stream, a
	// record fails Arrow's full validation, or bytes follow the end marker.
	ReasonCorruptIPC Reason = "corrupt_ipc"
	// ReasonTruncatedIPC: the stream ends inside a message or lacks its
	// end-of-stream marker.
	ReasonTruncatedIPC Reason = "truncated_ipc"
	// ReasonWrongSchema: the stream is not of the expected record kind: no or
	// another slhf.schema name, or a column the kind does not define.
	ReasonWrongSchema Reason = "wrong_schema"
	// ReasonUnknownVersion: the kind is right but its version is not one
	// this build decodes.
	ReasonUnknownVersion Reason = "unknown_version"
	// ReasonMissingField: a required column is absent, or a required value
	// (or a list item) is null.
	ReasonMissingField Reason = "missing_field"
	// ReasonWrongType: a known column has another Arrow type than the schema's.
	ReasonWrongType Reason = "wrong_type"
	// ReasonNaNPreference: the preference value is NaN.
	ReasonNaNPreference Reason = "nan_preference"
	// ReasonPreferenceOutOfRange: the preference is outside [0, 1] (±Inf too).
	ReasonPreferenceOutOfRange Reason = "preference_out_of_range"
	// ReasonEmptyText: a required text field (or a candidate) is empty.
	ReasonEmptyText Reason = "empty_text"
	// ReasonOversizedText: a text field is longer than Limits.MaxTextBytes.
	ReasonOversizedText Reason = "oversized_text"
	// ReasonInvalidUTF8: a text field is not valid UTF-8.
	ReasonInvalidUTF8 Reason = "invalid_utf8"
	// ReasonTooManyRows: the message holds more than Limits.MaxRows rows.
	ReasonTooManyRows Reason = "too_many_rows"
	// ReasonTooManyCandidates: a candidates list is longer than
	// Limits.MaxCandidates.
	ReasonTooManyCandidates Reason = "too_many_candidates"
	// ReasonInvalidEmbedding: an embedding holds NaN or ±Inf or a null item,
	// its dimension is zero or above Limits.MaxEmbeddingDim, or the
	// embedding columns of one message disagree on the dimension.
	ReasonInvalidEmbedding Reason = "invalid_embedding"
	// ReasonInvalidTimestamp: ts lies outside [Limits.MinTS, Limits.MaxTS).
	ReasonInvalidTimestamp Reason = "invalid_timestamp"
	// ReasonEmptyEventID: the record's key (event_id or request_id) is empty.
	ReasonEmptyEventID Reason = "empty_event_id"
	// ReasonInvalidValue: an optional or numeric field is outside its
	// domain: a probability outside [0, 1], a negative or non-finite weight,
	// a negative version, count or latency, an unknown role.
	ReasonInvalidValue Reason = "invalid_value"

	// ReasonDuplicateEvent is not produced by the Decoder: the ingest layer
	// uses it for an event_id it has already seen.
	ReasonDuplicateEvent Reason = "duplicate_event"
	// ReasonPoisonMessage is not produced by the Decoder: the ingest layer
	// uses it for a message that crashed the process on an earlier attempt.
	ReasonPoisonMessage Reason = "poison_message"
)

// Reasons returns every Reason, in a fixed order, so that callers can
// pre-create metric series. The slice is freshly allocated.
func Reasons() []Reason {
	return []Reason{
		ReasonEmptyMessage, ReasonOversizedMessage, ReasonOversizedAllocation,
		ReasonCorruptIPC, ReasonTruncatedIPC, ReasonWrongSchema, ReasonUnknownVersion,
		ReasonMissingField, ReasonWrongType, ReasonNaNPreference,
		ReasonPreferenceOutOfRange, ReasonEmptyText, ReasonOversizedText,
		ReasonInvalidUTF8, ReasonTooManyRows, ReasonTooManyCandidates,
		ReasonInvalidEmbedding, ReasonInvalidTimestamp, ReasonEmptyEventID,
		ReasonInvalidValue, ReasonDuplicateEvent, ReasonPoisonMessage,
	}
}

// ErrAllocationBudget is the cause (see DecodeError.Err) of every
// ReasonOversizedAllocation rejection: the message asked the allocator for
// more bytes than its budget allows.
var ErrAllocationBudget = errors.New("allocation budget exceeded")

// ErrRowTooLarge is returned, wrapped, by the Encode functions when one row
// alone encodes to more bytes than the message limit.
var ErrRowTooLarge = errors.New("row larger than message limit")

// DecodeError reports why a message, or a row given to an encoder, was
// refused. Row is the zero-based index of the first failing row across all
// record batches of the message, or -1 when the failure is not tied to a row
// (framing, schema, size). Field names the column, or is empty. Err, when
// not nil, is the underlying cause.
type DecodeError struct {
	Reason Reason
	Row    int
	Field  string
	Err    error
}

// Error formats e as "reason [row N] [field F]: cause".
func (e *DecodeError) Error() string {
	s := string(e.Reason)
	if e.Row >= 0 {
		s += fmt.Sprintf(" row %d", e.Row)
	}
	if e.Field != "" {
		s += " field " + e.Field
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *DecodeError) Unwrap() error { return e.Err }

// ReasonOf returns the Reason of the first *DecodeError in err's chain, or
// the empty Reason when there is none.
func ReasonOf(err error) Reason {
	var de *DecodeError
	if errors.As(err, &de) {
		return de.Reason
	}
	return ""
}

// reject builds a row-less DecodeError.
func reject(r Reason, field string, err error) *DecodeError {
	return &DecodeError{Reason: r, Row: -1, Field: field, Err: err}
}

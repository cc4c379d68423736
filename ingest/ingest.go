// Package ingest owns everything between Kafka and decoded records:
// reading partitions, decoding Arrow IPC message values, validating them,
// dropping duplicate events, guarding against crash loops on poison
// messages, and sending whatever is rejected to the dead-letter topic.
// Nothing past ingest sees bytes.
package ingest

import (
	"context"
	"time"
)

// Message is one Kafka message as read, with its position. The service
// never mutates it; Value is owned by the Message.
type Message struct {
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []Header
	Time      time.Time
}

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Next is the offset to resume from once m has been handled.
func (m *Message) Next() int64 { return m.Offset + 1 }

// Rejection is a message that will not be processed, and why.
type Rejection struct {
	Msg    Message
	Reason string // snake_case reason, also the metric label
	Err    error  // what went wrong, in words for the dead-letter header
}

// Rejecter receives rejected messages, normally the dead-letter topic.
// Reject must return only once the rejection is durable: the caller
// advances its offsets past the message after a nil return.
type Rejecter interface {
	Reject(ctx context.Context, r Rejection) error
}

// RejecterFunc adapts a function to [Rejecter].
type RejecterFunc func(ctx context.Context, r Rejection) error

// Reject calls f.
func (f RejecterFunc) Reject(ctx context.Context, r Rejection) error { return f(ctx, r) }

// Package sinks owns every output of slhf: Kafka topics (refined records
// and the dead-letter topic), files (JSON lines and Arrow IPC), stdout, and
// the checkpoint store.
//
// Delivery is at-least-once. A Kafka write that timed out may still land
// (kafka-go #1427) and a retried write may land twice, so every output row
// carries a stable key (request_id for refined records, the source
// topic/partition/offset for dead letters) and consumers deduplicate on it.
package sinks

// Package integration holds slhf's tests against a real Apache Kafka
// broker. They are skipped, saying why, unless SLHF_KAFKA_BROKERS names a
// broker; scripts/test.sh starts one (4.x, then 3.9.x) from Maven Central
// jars and sets it. See the README's "Integration tests" section.
package integration

"""Python client for slhf: build Arrow records, send them over Kafka, read results.

slhf learns online from human preference feedback. Every Kafka message value it reads
or writes is one Arrow IPC stream holding one or more record batches of one versioned
schema (the kind and version sit in the schema metadata under ``slhf.schema`` and
``slhf.version``):

* ``preference.v1``: feedback, a prompt, two responses and P(a preferred over b);
* ``response.v1``: traffic for the refine stage;
* ``refined.v1``: what the refine stage emits.

Typical use::

    from slhf_client import FeedbackProducer, build_preferences
    batch = build_preferences(rows)              # validated pyarrow.RecordBatch
    with FeedbackProducer("127.0.0.1:9092") as p:
        p.send("slhf.feedback", batch)           # split under the message limit, acks=all

The builders and decoders check the same rules as the service's decoder, so a row
rejected here would have been dead-lettered there.
"""

from slhf_client.errors import (
    DecodeError,
    DeliveryError,
    MessageTooLargeError,
    SlhfClientError,
    ValidationError,
)
from slhf_client.ipc import decode_message, encode_stream, split_messages
from slhf_client.kafka import FeedbackProducer, RefinedConsumer
from slhf_client.records import (
    DEFAULT_LIMITS,
    Limits,
    build_preferences,
    build_refined,
    build_responses,
    to_rows,
    validate,
)
from slhf_client.schemas import (
    META_SCHEMA_NAME,
    META_SCHEMA_VERSION,
    PREFERENCE,
    REFINED,
    RESPONSE,
    VERSION,
    preference_schema,
    refined_schema,
    response_schema,
)

__all__ = [
    "DEFAULT_LIMITS",
    "Limits",
    "DecodeError",
    "DeliveryError",
    "FeedbackProducer",
    "MessageTooLargeError",
    "META_SCHEMA_NAME",
    "META_SCHEMA_VERSION",
    "PREFERENCE",
    "REFINED",
    "RESPONSE",
    "RefinedConsumer",
    "SlhfClientError",
    "VERSION",
    "ValidationError",
    "build_preferences",
    "build_refined",
    "build_responses",
    "decode_message",
    "encode_stream",
    "preference_schema",
    "refined_schema",
    "response_schema",
    "split_messages",
    "to_rows",
    "validate",
]

"""Shared fixtures: valid rows of every kind, built from scratch for each test."""

import datetime as dt

import pytest

TS = dt.datetime(2024, 5, 17, 12, 30, 0, 123000, tzinfo=dt.timezone.utc)
TS_MS = 1715949000123


def preference_row(i: int = 0, **over):
    row = {
        "event_id": f"ev-{i}",
        "ts": TS,
        "prompt": "Human: How do I boil an egg?\n\nAssistant:",
        "response_a": "Put it in boiling water for eight minutes.",
        "response_b": "Eggs are laid by hens.",
        "preference": 0.75,
        "prompt_id": "p-1",
        "model_a": "m-a",
        "model_b": "m-b",
        "role_a": "leader",
        "role_b": "follower",
        "prob_a": 0.25,
        "prob_b": 0.5,
        "policy_version": 7,
        "weight": 2.0,
        "annotator": "h:9f2c",
    }
    row.update(over)
    return row


def response_row(i: int = 0, **over):
    row = {
        "request_id": f"req-{i}",
        "ts": TS,
        "prompt": "Name a prime.",
        "response": "Four.",
        "candidates": ["Two.", "Seven is prime."],
        "model": "m-a",
    }
    row.update(over)
    return row


def refined_row(i: int = 0, **over):
    row = {
        "request_id": f"req-{i}",
        "ts": TS,
        "prompt": "Name a prime.",
        "original": "Four.",
        "refined": "Seven is prime.",
        "rounds": 2,
        "changed": True,
        "follower_prob": 0.625,
        "model_version": 12,
        "latency_us": 850,
        "reason": "kept",
    }
    row.update(over)
    return row


@pytest.fixture
def pref():
    return preference_row

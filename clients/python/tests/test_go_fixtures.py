"""Cross-language check: messages the Go service wrote decode here, and the same ones
are rejected for the same reason.

The Go schemas package keeps a corpus in schemas/testdata:
``good/<kind>--<desc>.arrow`` must be accepted, ``bad/<kind>/<reason>--<desc>.arrow``
rejected with <reason>. The corpus is decoded with small limits (schemas/corpus_test.go,
corpusLimits), repeated here. Skipped while the Go side has written no corpus.
"""

import os
import pathlib

import pytest

import slhf_client as c

ROOT = pathlib.Path(os.environ.get(
    "SLHF_GO_FIXTURES", pathlib.Path(__file__).resolve().parents[3] / "schemas" / "testdata"))

CORPUS_LIMITS = c.Limits(
    max_message_bytes=64 << 10, max_rows=100, max_text_bytes=4 << 10,
    max_embedding_dim=64, max_candidates=8, min_allocation=1 << 20)

GOOD = sorted((ROOT / "good").glob("*.arrow")) if ROOT.is_dir() else []
BAD = sorted((ROOT / "bad").glob("*/*.arrow")) if ROOT.is_dir() else []


@pytest.mark.skipif(not GOOD, reason=f"no Go-written corpus under {ROOT}/good yet")
@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_go_good(path):
    kind = path.name.split("--")[0]
    table = c.decode_message(path.read_bytes(), kind, CORPUS_LIMITS)
    assert table.num_rows > 0


@pytest.mark.skipif(not BAD, reason=f"no Go-written corpus under {ROOT}/bad yet")
@pytest.mark.parametrize("path", BAD, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_go_bad(path):
    kind, want = path.parent.name, path.name.split("--")[0]
    with pytest.raises(c.DecodeError) as ei:
        c.decode_message(path.read_bytes(), kind, CORPUS_LIMITS)
    assert ei.value.reason == want, str(ei.value)

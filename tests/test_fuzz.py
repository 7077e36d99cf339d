"""Fuzzing the parsers of untrusted input: whatever the bytes, only steepest's own errors come
out (never a traceback of another kind, a hang or a flood of memory)."""

import gzip

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from steepest._bounded import parse_yaml
from steepest.config import parse_config
from steepest.data.cifar import safe_unpickle
from steepest.data.idx import decompress_idx, parse_idx
from steepest.errors import SteepestError
from steepest.tune import parse_space

FAST = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
trees = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=10), inner, max_size=5)),
    max_leaves=25)
config_like = st.dictionaries(
    st.sampled_from(["data", "model", "optim", "train", "colour", "schedule"]),
    st.one_of(trees, st.dictionaries(
        st.sampled_from(["name", "hidden", "lr", "epochs", "batch_size", "dropout", "reg",
                         "activation", "schedule", "kind", "seed", "dtype", "x"]),
        trees, max_size=6)), max_size=4)


def _only_ours(call, *args):
    try:
        call(*args)
    except SteepestError:
        pass


@FAST
@given(st.binary(max_size=300))
def test_idx_parser(data):
    _only_ours(parse_idx, data, "fuzz")
    _only_ours(parse_idx, b"\x00\x00\x08\x01" + data, "fuzz")


@FAST
@given(st.binary(max_size=200))
def test_compressed_idx(data):
    _only_ours(decompress_idx, gzip.compress(b"\x00\x00\x08\x01" + data), "fuzz")
    _only_ours(decompress_idx, b"\x1f\x8b" + data, "fuzz")


@FAST
@given(st.text(max_size=300))
def test_yaml_text(text):
    _only_ours(parse_yaml, text, "fuzz")


@FAST
@given(config_like)
def test_config_loader(data):
    _only_ours(parse_config, data)


@FAST
@given(st.dictionaries(st.one_of(st.text(max_size=12), st.integers(),
                                 st.sampled_from(["optim.lr", "model.reg", "model.hidden",
                                                  "train.batch_size", "optim.name"])),
                       trees, max_size=4))
def test_search_space_parser(data):
    _only_ours(parse_space, data, {})


@FAST
@given(st.binary(max_size=300))
def test_restricted_unpickler(data):
    _only_ours(safe_unpickle, data, "fuzz")
    _only_ours(safe_unpickle, b"\x80\x02" + data, "fuzz")

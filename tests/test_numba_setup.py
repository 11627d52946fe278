"""How the package sets numba up before anything compiles."""

from __future__ import annotations

import os

import llvmlite.binding as llvm
import numba
import pytest

from simulation import _numba_target


class Features:
    def __init__(self, text):
        self.text = text

    def flatten(self):
        return self.text


@pytest.fixture
def host(monkeypatch):
    """A fake host: set its feature string; numba's settings are never actually reread."""
    monkeypatch.delenv("NUMBA_CPU_FEATURES", raising=False)
    monkeypatch.delenv("NUMBA_CPU_NAME", raising=False)
    rereads = []
    monkeypatch.setattr(numba.config, "reload_config", lambda: rereads.append(True))

    def with_features(text):
        monkeypatch.setattr(llvm, "get_host_cpu_features", lambda: Features(text))
        return rereads
    return with_features


def test_avx512_hosts_get_full_width_vectors(host, monkeypatch):
    rereads = host("+avx2,+avx512f,+fma")
    _numba_target.prefer_full_width_vectors()
    assert os.environ["NUMBA_CPU_FEATURES"] == "+avx2,+avx512f,+fma,-prefer-256-bit"
    assert rereads == [True]


@pytest.mark.parametrize("features", ["+avx2,+fma", "+avx2,-avx512f"])
def test_other_hosts_are_left_alone(host, features):
    rereads = host(features)
    _numba_target.prefer_full_width_vectors()
    assert "NUMBA_CPU_FEATURES" not in os.environ and rereads == []


@pytest.mark.parametrize("variable", ["NUMBA_CPU_FEATURES", "NUMBA_CPU_NAME"])
def test_a_users_own_choice_is_kept(host, monkeypatch, variable):
    rereads = host("+avx2,+avx512f")
    monkeypatch.setenv(variable, "x86-64" if variable == "NUMBA_CPU_NAME" else "+sse2")
    _numba_target.prefer_full_width_vectors()
    assert os.environ.get("NUMBA_CPU_FEATURES") in (None, "+sse2") and rereads == []

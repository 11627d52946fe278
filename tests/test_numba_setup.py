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


# ------------------------------------------------------------------------ kernel cache

def _copy_of_the_jitted_sources(folder):
    from simulation import _numba_cache

    package = folder / "simulation"
    package.mkdir()
    source = os.path.dirname(_numba_cache.__file__)
    for name in _numba_cache._JITTED_SOURCES:
        (package / name).write_bytes(open(os.path.join(source, name), "rb").read())
    return package


def test_an_edited_rule_gets_a_new_cache_folder_even_in_the_users_folder(tmp_path, monkeypatch):
    from simulation import _numba_cache

    package = _copy_of_the_jitted_sources(tmp_path)
    users = tmp_path / "users-cache"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(users))
    monkeypatch.setattr(numba.config, "CACHE_DIR", numba.config.CACHE_DIR)  # restored after
    before = _numba_cache.use_source_keyed_cache(package)
    assert before.parent == users and before.name.startswith("numba-")
    assert numba.config.CACHE_DIR == str(before)
    assert _numba_cache.use_source_keyed_cache(package) == before  # unchanged sources: reused
    with open(package / "rules.py", "a") as rules:
        rules.write("\n# an edit\n")
    after = _numba_cache.use_source_keyed_cache(package)
    assert after.parent == users and after != before
    assert numba.config.CACHE_DIR == str(after)
    assert before.is_dir()  # a folder the user chose may be shared: other versions are kept


def test_without_a_users_folder_the_cache_sits_beside_the_sources(tmp_path, monkeypatch):
    from simulation import _numba_cache

    package = _copy_of_the_jitted_sources(tmp_path)
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(numba.config, "CACHE_DIR", numba.config.CACHE_DIR)
    before = _numba_cache.use_source_keyed_cache(package)
    assert before.parent == package / "__pycache__"
    with open(package / "batch.py", "a") as batch:
        batch.write("\n# an edit\n")
    after = _numba_cache.use_source_keyed_cache(package)
    assert after != before and not before.exists()  # the stale version's cache is freed

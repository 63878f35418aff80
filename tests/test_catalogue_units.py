"""The catalogue's parts without rendering: discovery and manifests, content keys, the per-edit gate, one load
per avatar, crashes as red rows that a rerun retries, thread budgets, and the Dask extra's absence."""

from __future__ import annotations

import dataclasses
import json
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from avatarcheck.catalogue import discover
from avatarcheck.catalogue import worker as worker_mod
from avatarcheck.catalogue.engines import import_distributed, local_threads, worker_budgets
from avatarcheck.catalogue.keys import avatar_digest, edit_digest, gate_digest, item_key, take_digest
from avatarcheck.catalogue.plan import AvatarGroup, Item, Settings, item_spec, resolve_edits
from avatarcheck.catalogue.store import ITEMS, done_row
from avatarcheck.cli import app
from avatarcheck.errors import InputError
from avatarcheck.gate.result import GateResult
from avatarcheck.gate.spec import load_gate
from avatarcheck.threads import available_cores


def _zip(path: Path, names=("a/skin.glb", "a/offset.ply")) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for n in names:
            zf.writestr(n, b"x")
    return path


def test_a_folder_holds_zips_and_avatar_folders_and_a_manifest_adds_edits_and_takes(tmp_path):
    cat = tmp_path / "cat"
    (cat / "carol").mkdir(parents=True)
    (cat / "carol" / "offset.ply").write_bytes(b"x")
    (cat / "notes").mkdir()
    (cat / "readme.txt").write_text("not an avatar")
    _zip(cat / "b.zip"), _zip(cat / "a.ZIP"), _zip(cat / ".hidden.zip")
    found = discover([str(cat)])
    assert [Path(a.spec).name for a in found.avatars] == ["a.ZIP", "b.zip", "carol"]
    manifest = tmp_path / "m.toml"
    manifest.write_text('avatars = ["cat/*.zip", "cat/b.zip", "synthetic:lam-trained"]\ntakes = ["synthetic:3"]\n'
                        'edits = ["pear", { name = "pear3", kind = "chibi", preset = "pear", strength = 3.0 }]\n')
    found = discover([str(manifest)])
    assert [Path(a.spec).name for a in found.avatars] == ["b.zip", "synthetic:lam-trained"]  # globs match case
    assert found.takes == ("synthetic:3",) and found.manifests == (str(manifest),)
    edits = resolve_edits(load_gate("three-moment"), found.edits, "m.toml")
    assert [(e.name, e.params["strength"]) for e in edits] == [("pear", 2.0), ("pear3", 3.0)]


@pytest.mark.parametrize("args, words", [
    (["nope.zip"], "no such path"),
    (["empty"], "none of them"),
    (["x/*.zip"], "no match"),
])
def test_paths_that_hold_no_avatar_are_errors_naming_them(tmp_path, monkeypatch, args, words):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=words):
        discover(args)


def test_manifest_and_edit_mistakes_name_the_file_and_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('avatars = ["a.zip"]\nedit = ["pear"]\n')
    with pytest.raises(InputError, match=r"bad.toml: edit: expected one of the keys"):
        discover([str(bad)])
    spec = load_gate("three-moment")
    with pytest.raises(InputError, match="names of the gate's edits"):
        resolve_edits(spec, ["pearr"], "--edit")
    with pytest.raises(InputError, match=r"edits.pear: expected the gate's edit"):
        resolve_edits(spec, [{"name": "pear", "kind": "chibi", "preset": "pear", "strength": 3.0}], "m.toml")


def test_keys_follow_content_not_names(tmp_path):
    a = _zip(tmp_path / "a.zip")
    (tmp_path / "copy.zip").write_bytes(a.read_bytes())
    assert avatar_digest(str(a)) == avatar_digest(str(tmp_path / "copy.zip"))
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "offset.ply").write_bytes(b"1")
    before = avatar_digest(str(folder))
    (folder / "offset.ply").write_bytes(b"2")
    assert avatar_digest(str(folder)) != before
    spec = load_gate("three-moment")
    pear, hourglass = spec.edits
    assert edit_digest(pear) != edit_digest(dataclasses.replace(pear, params={**pear.params, "strength": 2.5}))
    settings = {"backend": "cpu"}
    stricter = dataclasses.replace(spec, checks=(dataclasses.replace(spec.checks[0], threshold=0.1),) + spec.checks[1:])
    assert gate_digest(spec, settings) != gate_digest(stricter, settings)
    assert gate_digest(spec, settings) == gate_digest(dataclasses.replace(spec, source="elsewhere.toml"), settings)
    assert gate_digest(spec, settings) != gate_digest(spec, {"backend": "cuda"})
    from avatarcheck.takes.synthetic import synthetic_take

    t1, t2 = synthetic_take(seed=1), synthetic_take(seed=2)
    assert take_digest(t1) == take_digest(synthetic_take(seed=1)) != take_digest(t2)
    assert len({item_key("a", "e", t, "g") for t in ("t1", "t2")}) == 2


def test_an_item_gates_one_edit_and_drops_orderings_across_edits():
    spec = load_gate("three-moment")
    assert spec.orderings and {o.greater.split("/")[0] for o in spec.orderings} != {o.lesser.split("/")[0]
                                                                                      for o in spec.orderings}
    one = item_spec(spec, spec.edits[0])
    assert one.edits == (spec.edits[0],) and one.orderings == () and one.sweep is None
    assert {e for e, _ in one.variant_pairs()} == {"unedited", spec.edits[0].name}


def _group(tmp_path, n_edits: int = 2, takes=("synthetic:1", "synthetic:2")) -> tuple[AvatarGroup, Settings]:
    spec = load_gate("three-moment")
    items = tuple(Item(f"k{i}{j}", "somewhere.zip", "somewhere.zip", e, t)
                  for i, e in enumerate(spec.edits[:n_edits]) for j, t in enumerate(takes))
    return AvatarGroup("somewhere.zip", "somewhere.zip", items), Settings(spec, str(tmp_path / "out"), "cpu")


def _fake_result(item, *_args):
    return GateResult(gate="g", avatar="a", take=item.take, backend="cpu", device="cpu", image_size=8, moments={})


def test_a_worker_reads_each_avatar_once_for_every_edit_and_take(tmp_path, monkeypatch):
    import avatarcheck.sources as sources

    loads = []
    monkeypatch.setattr(sources, "load_avatar_source", lambda spec, options: loads.append(spec) or "loaded")
    monkeypatch.setattr(worker_mod, "gate_item", lambda item, loaded, settings, folder: (
        folder.mkdir(parents=True), _fake_result(item))[1] if loaded == "loaded" else None)
    group, settings = _group(tmp_path)
    rows = worker_mod.run_group(group, settings)
    assert loads == ["somewhere.zip"] and len(rows) == 4
    assert [r["key"] for r in rows] == [i.key for i in group.items]
    assert all(done_row(settings.out, i) for i in group.items)
    copy = dataclasses.replace(group.items[0], avatar="copy.zip", label="copy.zip")  # same bytes, same key
    assert done_row(settings.out, copy)["avatar"] == "copy.zip"
    again = worker_mod.run_group(group, settings)  # everything done: nothing read, every row resumed
    assert loads == ["somewhere.zip"] and all(r["resumed"] for r in again)


def test_a_crash_is_a_red_row_that_is_not_stored_and_a_bad_avatar_one_that_is(tmp_path, monkeypatch):
    import avatarcheck.sources as sources

    def crash(*_):
        raise RuntimeError("boom")

    monkeypatch.setattr(sources, "load_avatar_source", lambda spec, options: "loaded")
    monkeypatch.setattr(worker_mod, "gate_item", crash)
    group, settings = _group(tmp_path, 1, ("synthetic:1",))
    (row,) = worker_mod.run_group(group, settings)
    assert row["verdict"] == "error" and row["error_kind"] == "internal" and "boom" in row["error"]
    assert not list((Path(settings.out) / ITEMS).iterdir())  # no item, no temp folder: a rerun retries it

    def bad(spec, options):
        raise InputError(spec, "offset.ply", "a PLY", "nothing")

    monkeypatch.setattr(sources, "load_avatar_source", bad)
    (row,) = worker_mod.run_group(group, settings)
    assert row["error_kind"] == "input" and "offset.ply" in row["error"]
    stored = json.loads((Path(settings.out) / ITEMS / row["key"] / "item.json").read_text())
    assert stored["error"] == row["error"]


def test_workers_times_threads_never_exceed_the_cores():
    cores = available_cores()
    for asked in (1, 2, 3, 64):
        n, t = local_threads(asked)
        assert 1 <= n <= max(1, min(asked, cores)) and n * t <= max(cores, 1)

    class Client:  # two 1-slot workers on one 2-core host, one 2-slot worker on an 8-core host
        def scheduler_info(self):
            return {"workers": {"a": {"host": "h1", "nthreads": 1}, "b": {"host": "h1", "nthreads": 1},
                                "c": {"host": "h2", "nthreads": 2}}}

        def run(self, fn):
            return {"a": 2, "b": 2, "c": 8}

    assert worker_budgets(Client()) == {"a": 1, "b": 1, "c": 4}


def test_cluster_without_dask_names_the_extra_and_gpu_needs_a_cluster(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(InputError, match=r"avatarcheck\[cluster\]"):
        import_distributed()
    r = CliRunner().invoke(app, ["catalogue", "synthetic", "--gpu", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "--cluster" in r.output


def test_gpu_tasks_on_a_cluster_without_gpu_workers_are_refused_not_left_waiting(tmp_path):
    from distributed import LocalCluster

    from avatarcheck.catalogue.engines import run_dask

    _, settings = _group(tmp_path, 1, ("synthetic:1",))
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        with pytest.raises(InputError, match="resource GPU"):
            run_dask([], settings, cluster.scheduler_address, 1, True, lambda rows: None)


def test_a_failed_check_reads_with_its_value_and_bar_in_the_row():
    """A near miss (0.034 over a 0.03 bar) must read differently from a far one in the summary."""
    import types

    from avatarcheck.catalogue.rows import problems
    from avatarcheck.gate.result import CheckResult

    def check(item_id, value, op, bar, expected="pass"):
        passed = value <= bar if op == "<=" else value >= bar
        return CheckResult(item_id, "pear", item_id.split("/")[1], "eye_wide", "c", "s", "left", value, op, bar,
                           passed, expected, passed == (expected == "pass"), "")

    checks = [check("pear/post-fix/eye_wide/head_holes", 0.0341, "<=", 0.03),
              check("pear/post-fix/eye_wide/eye_visible", 0.434, ">=", 0.5),
              check("pear/pre-fix/full_blink/leak_max", 0.2, "<=", 0.9, expected="fail"),
              check("pear/post-fix/full_blink/leak_max", 0.1, "<=", 0.9)]
    result = types.SimpleNamespace(checks=checks, orderings=[], detections=[], goldens=[], skipped=[],
                                   avatar_check={}, closure={})
    assert problems(result) == ["pear/post-fix/eye_wide/head_holes: 0.0341, bar <= 0.03",
                                "pear/post-fix/eye_wide/eye_visible: 0.434, bar >= 0.5",
                                "pear/pre-fix/full_blink/leak_max: 0.2, bar <= 0.9; expected to fail"]

"""Reliability re-audit 2026-12-05 (shared/audits/reliability-2026-12-05.md), the gate's units: N1 (a gate that
checked nothing), N2 (one report folder per run), N3 (gate --help), N9 ([sweep] merge), N13 (interrupted
--golden-update), N14 (names with a trailing newline) and the packaged goldens' choice. Nothing here renders."""

from __future__ import annotations

import dataclasses
import json
import types
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from avatarcheck.errors import InputError
from avatarcheck.gate import golden as G
from avatarcheck.gate.result import CheckResult, GateResult, SkippedItem
from avatarcheck.gate.spec import checked_name, load_gate
from avatarcheck.io.images import write_png

GATE = '[tool.avatarcheck."three-moment"'


def _result(**kw) -> GateResult:
    return GateResult("three-moment", "synthetic", "t", "cpu", "cpu", 64, {}, **kw)


# -- N1: a gate that checked nothing never passes ---------------------------------------------------

def test_a_result_with_every_item_skipped_is_not_ok():
    skipped = [SkippedItem(f"unedited/baseline/{m}/leak_max", "the take has no such moment") for m in "abc"]
    nothing = _result(skipped=skipped)
    assert nothing.checked_nothing and not nothing.ok
    check = CheckResult("unedited/baseline/eye_wide/eye_visible", "unedited", "baseline", "eye_wide", "eye_visible",
                        "open_e_mean", "left", 0.9, ">=", 0.5, True, "pass", True, "m")
    some = _result(checks=[check], skipped=skipped)
    assert not some.checked_nothing and some.ok
    # round trip keeps the verdict
    assert not GateResult.from_dict(json.loads(nothing.to_json())).ok


def _session_with(moments: dict):
    from avatarcheck.gate.inputs import GateInputs
    from avatarcheck.gate.session import GateSession
    from avatarcheck.takes.take import Take

    spec = load_gate("three-moment")
    s = GateSession(spec, "unused", backend="cpu")
    weights = np.zeros((5, 52), np.float32)   # no eye closed: no worst-closed frame either
    s.inputs = GateInputs("synthetic", None, Take.from_weights(weights), "t-00000000", moments)
    s.avatar_check = {"implausible": False}
    return s


def test_the_session_level_item_fails_when_the_take_has_none_of_the_moments():
    from avatarcheck.gate.session import MOMENTS_ITEM
    from avatarcheck.moments import MissingMoment, Moment

    gone = {m: MissingMoment(m, f"no {m} here", 3, (), {}) for m in ("eye_wide", "full_blink", "half_blink_down")}
    s = _session_with(gone)
    step = next(st for st in s.steps() if st.item_id == MOMENTS_ITEM)
    assert [st.item_id for st in s.steps()][:3] == ["avatar/plausible", "avatar/blink_closure", MOMENTS_ITEM]
    out = step.run()
    assert out.status == "fail"
    assert "the take has none of the gate's moments" in out.message and "checked nothing" in out.message
    assert "no full_blink here" in out.message and 'missing_moment = "skip"' in out.message
    (rec,) = s.skipped.values()
    assert rec.item_id == MOMENTS_ITEM and rec.failed
    # one moment is enough: the other items skip, the gate still checks something
    s = _session_with({**gone, "eye_wide": Moment("eye_wide", 1, "r", {})})
    assert next(st for st in s.steps() if st.item_id == MOMENTS_ITEM).run().status == "pass" and not s.skipped


# -- N2 / N4: report folders --------------------------------------------------------------------------

def test_report_folders_are_created_exclusively_with_a_suffix_on_collision(tmp_path, monkeypatch):
    from avatarcheck.report import html

    monkeypatch.setattr(html, "report_timestamp", lambda: "20261205-071508")
    first = html.create_report_dir(tmp_path / "R", "three-moment")
    second = html.create_report_dir(tmp_path / "R", "three-moment")
    third = html.create_report_dir(tmp_path / "R", "three-moment")
    assert [p.name for p in (first, second, third)] == ["20261205-071508-three-moment",
                                                        "20261205-071508-three-moment-2",
                                                        "20261205-071508-three-moment-3"]
    assert all(p.is_dir() and p.parent == tmp_path / "R" for p in (first, second, third))
    # a gate name is one path component, never a path (N4)
    for bad in ("teams/lids.toml", "../../x", "/abs", "lids\n", ""):
        with pytest.raises(InputError):
            html.create_report_dir(tmp_path / "R", bad)


# -- N3: help strings survive rich markup ------------------------------------------------------------------

def test_gate_help_keeps_its_bracketed_words():
    from avatarcheck.cli import app

    r = CliRunner().invoke(app, ["gate", "--help"], env={"COLUMNS": "300"})
    assert r.exit_code == 0
    text = " ".join(r.output.split())
    assert "also run the gate's [sweep]" in text
    assert 'read [tool.avatarcheck."<gate>"] overrides here' in text


# -- N9: a [sweep] table in pyproject ------------------------------------------------------------------

def _sweep(tmp_path, body: str):
    py = tmp_path / "pyproject.toml"
    py.write_text(f"{GATE}.sweep]\n{body}")
    return load_gate("three-moment", py, pyproject_required=True).sweep


def test_a_typo_in_sweep_edit_is_an_error_not_a_silent_pear(tmp_path):
    with pytest.raises(InputError, match=r"sweep\.edit: expected one of the gate's edits.*'hourglas'"):
        _sweep(tmp_path, 'edit = "hourglas"\n')
    hourglass = _sweep(tmp_path, 'edit = "hourglass"\n')   # an edit of the gate's: its own kind and parameters
    assert (hourglass.name, hourglass.kind, hourglass.params["preset"]) == ("hourglass", "chibi", "hourglass")
    assert hourglass.strengths == load_gate("three-moment").sweep.strengths   # the rest still merges


def test_an_anime_eyes_sweep_is_declarable_from_pyproject(tmp_path):
    s = _sweep(tmp_path, 'edit = "big-eyes"\nkind = "anime_eyes"\nhorizontal = 1.4\n'
                         'strengths = [0.5, 1.0]\nmin_safe = { ratio = 1.0 }\n')
    assert (s.name, s.kind) == ("big-eyes", "anime_eyes") and "preset" not in s.params
    assert s.params["horizontal"] == 1.4
    # without the user's edit or kind the packaged sweep is merged key by key, as before
    assert _sweep(tmp_path, "strengths = [1.0, 2.0]\n").params["preset"] == "pear"


# -- N14: names with a trailing newline ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["pear\n", "pear\n\n", "\npear", "pe\nar"])
def test_names_with_a_newline_are_refused(name, tmp_path):
    with pytest.raises(InputError, match="lower-case letters"):
        checked_name(name, "x.toml", "edits[0].name")
    py = tmp_path / "pyproject.toml"
    py.write_text(f'{GATE}.sweep]\nedit = {json.dumps(name)}\nkind = "chibi"\npreset = "pear"\n')
    with pytest.raises(InputError, match="sweep.edit"):
        load_gate("three-moment", py, pyproject_required=True)


def test_a_gate_file_whose_stem_ends_in_a_newline_is_refused(tmp_path):
    from importlib import resources

    path = tmp_path / "lids\n.toml"
    path.write_text(resources.files("avatarcheck.gate").joinpath("gates", "three-moment.toml").read_text())
    with pytest.raises(InputError, match="gate name"):
        load_gate(str(path))


# -- N13: an interrupted --golden-update ------------------------------------------------------------------

def _set(root: Path, backend: str = "cpu") -> G.GoldenSet:
    return G.GoldenSet(root, Path("three-moment/synthetic/t-00000000"), backend, "user")


def _png(path: Path, value: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_png(path, np.full((4, 4, 3), value, np.float32))


def test_an_update_killed_midway_leaves_a_set_that_says_so(tmp_path):
    gset = _set(tmp_path)
    a, b = gset.folder / "e/v/eye_wide.cpu.png", gset.folder / "e/v/full_blink.cpu.png"
    for p in (a, b):
        _png(p, 0.2)
    assert G.set_problem(gset, a) is None                 # a hand-made set without a manifest is read as is
    G.finish_update(gset)
    assert G.set_problem(gset, a) is None and G.set_problem(gset, b) is None
    # an update starts (marks the set), writes one golden, and is killed before it finishes
    G.begin_update(gset)
    _png(a, 0.8)
    for p in (a, b):
        problem = G.set_problem(gset, p)
        assert problem and "interrupted --golden-update" in problem and "--golden-update" in problem
    # the next update completes the set again
    G.begin_update(gset)
    _png(b, 0.8)
    G.finish_update(gset)
    assert G.set_problem(gset, a) is None and G.set_problem(gset, b) is None
    manifest = json.loads((gset.folder / "manifest.cpu.json").read_text())
    assert manifest["complete"] and sorted(manifest["files"]) == ["e/v/eye_wide.cpu.png", "e/v/full_blink.cpu.png"]


def test_a_golden_changed_after_its_manifest_fails_and_other_backends_are_apart(tmp_path):
    gset = _set(tmp_path)
    a = gset.folder / "e/v/eye_wide.cpu.png"
    _png(a, 0.2)
    G.finish_update(gset)
    _png(a, 0.9)   # a concurrent writer, or a hand edit, after the set was completed
    assert "changed since" in G.set_problem(gset, a)
    # a CUDA golden added later (the GPU kit's tarball) is not judged by the CPU manifest
    cuda = gset.folder / "e/v/eye_wide.cuda.png"
    _png(cuda, 0.5)
    assert G.set_problem(_set(tmp_path, "cuda"), cuda) is None


def test_a_broken_manifest_is_a_clear_error(tmp_path):
    gset = _set(tmp_path)
    gset.folder.mkdir(parents=True)
    (gset.folder / "manifest.cpu.json").write_text("{nope")
    problem = G.set_problem(gset, gset.folder / "x.cpu.png")
    assert "manifest.cpu.json" in problem and "expected" in problem


def _golden_ev(tmp_path, image):
    spec = load_gate("three-moment")
    frame = types.SimpleNamespace(rgb=image)
    inputs = types.SimpleNamespace(avatar_name="synthetic", take_key="t-00000000",
                                   take=types.SimpleNamespace(source="synthetic:1"))
    return types.SimpleNamespace(spec=spec, inputs=inputs, backend="cpu",
                                 moment_evals=lambda e, v: {"eye_wide": frame})


def test_the_golden_item_fails_on_an_interrupted_update_and_finishes_a_complete_one(tmp_path):
    from avatarcheck.gate import items
    from avatarcheck.gate.artefacts import Artefacts
    from avatarcheck.gate.spec import GoldenItem

    image = np.full((8, 8, 3), 0.5, np.float32)
    ev = _golden_ev(tmp_path, image)
    item = GoldenItem("unedited", "baseline", "eye_wide")
    gset = G.GoldenSet(tmp_path / "golden", Path("three-moment/synthetic/t-00000000"), "cpu", "user")
    art = Artefacts(tmp_path / "report")
    r = items.golden(ev, item, gset, True, art)
    assert r.status == "updated" and "interrupted" in G.set_problem(gset, gset.folder / "x.cpu.png")
    G.finish_update(gset)
    assert items.golden(ev, item, gset, False, art).status == "pass"
    G.begin_update(gset)   # killed before it finished: the set says so, and the item fails with it
    r = items.golden(ev, item, gset, False, art)
    assert r.status == "fail" and "interrupted --golden-update" in r.message


# -- the packaged goldens (the demo in any folder) --------------------------------------------------------

TAKE_KEY = "synthetic-1-30133b7f"


def test_the_packaged_goldens_ship_with_the_package_and_have_a_complete_manifest():
    root = G.packaged_root()
    assert root is not None
    for gate in ("three-moment", "anime-eyes"):
        gset = G.GoldenSet(root, Path(gate) / "synthetic" / TAKE_KEY, "cpu", "packaged")
        pngs = sorted(gset.folder.rglob("*.cpu.png"))
        assert pngs and all(G.set_problem(gset, p) is None for p in pngs)
        assert json.loads((gset.folder / "manifest.cpu.json").read_text())["complete"]
    assert len(list((root / "three-moment").rglob("*.cpu.png"))) == 21
    # one copy in the repository: the package's folder is the top-level golden/
    repo = Path(__file__).resolve().parents[1]
    assert root.resolve() == (repo / "golden").resolve()


def test_the_golden_set_user_first_then_packaged_for_the_embedded_avatar(tmp_path):
    rel = Path("three-moment") / "synthetic" / TAKE_KEY
    user = tmp_path / "golden"
    chosen = G.choose_set(user, rel, "cpu", embedded=True, update=False)
    assert chosen.source == "packaged" and chosen.root == G.packaged_root()
    # another avatar, another take or another backend: no packaged set, the user's root (missing goldens)
    assert G.choose_set(user, rel, "cpu", embedded=False, update=False).source == "user"
    assert G.choose_set(user, Path("three-moment/synthetic/synthetic-2-00000000"), "cpu", embedded=True,
                        update=False).source == "user"
    assert G.choose_set(user, rel, "cuda", embedded=True, update=False).root == user
    # --golden-update always writes the user's root, never the package
    assert G.choose_set(user, rel, "cpu", embedded=True, update=True).root == user
    # a user's own goldens win
    _png(user / rel / "unedited/baseline/eye_wide.cpu.png", 0.3)
    mine = G.choose_set(user, rel, "cpu", embedded=True, update=False)
    assert (mine.source, mine.root) == ("user", user)
    d = mine.as_dict()
    assert G.GoldenSet.from_dict(d) == mine and d["source"] == "user"


def test_the_avatar_gate_records_which_golden_set_it_used():
    r = dataclasses.replace(_result(), golden_set={"source": "packaged", "root": "/x", "folder": "f", "backend": "cpu"})
    back = GateResult.from_dict(json.loads(r.to_json()))
    assert back.golden_set["source"] == "packaged"
    merged = _result().merge(r)
    assert merged.golden_set["source"] == "packaged"


def test_a_sweep_table_with_an_edit_and_parameters_refines_the_packaged_kind(tmp_path):
    packaged = load_gate("three-moment").sweep
    s = _sweep(tmp_path, 'edit = "round"\npreset = "hourglass"\n')     # the packaged kind, the user's preset
    assert (s.name, s.kind, s.params["preset"], s.min_safe) == ("round", "chibi", "hourglass", packaged.min_safe)
    # a parameter of another kind names the user's key, not one they never wrote
    with pytest.raises(InputError, match=r"sweep\.horizontal"):
        _sweep(tmp_path, 'edit = "big"\nhorizontal = 1.4\n')


def test_gate_notes_ambient_overrides_bad_values_and_mistyped_names(tmp_path, monkeypatch):
    """The gate never applies LAM_* variables (its variants declare their overrides): it says so, says when a
    value would be refused, and hints at a mistyped name, as render / sweep / head export do."""
    from typer.testing import CliRunner

    from avatarcheck.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LAM_CHIBI_SCALE_BOOST", "1_5")
    monkeypatch.setenv("LAM_CHIBI_SCALE_RATIOS", "x.npy")
    r = CliRunner().invoke(app, ["gate", "--backend", "cpu", "--take", str(tmp_path / "missing.csv")])
    text = " ".join(r.output.split())
    assert r.exit_code == 2  # the missing take: nothing ran
    assert "LAM_CHIBI_SCALE_BOOST set but not applied" in text and "would refuse it" in text
    assert "LAM_CHIBI_SCALE_RATIOS" in text and "LAM_CHIBI_SCALE_RATIO" in text.replace("LAM_CHIBI_SCALE_RATIOS", "")

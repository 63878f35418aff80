"""The gate's units one by one (inputs, evaluation cache, item functions, artefacts, step list) and the
three plug-in points (an edit kind, a gate file, a render backend), each shown with a toy."""

from __future__ import annotations

import dataclasses
import types

import numpy as np
import pytest

from avatarcheck.errors import InputError
from avatarcheck.gate import items
from avatarcheck.gate.artefacts import Artefacts, inside
from avatarcheck.gate.inputs import GateInputs, load_take_source, take_key
from avatarcheck.gate.session import GateSession
from avatarcheck.gate.spec import CheckItem, CheckSpec, load_gate, parse_gate
from avatarcheck.moments import MissingMoment, Moment
from avatarcheck.takes.take import Take

SPEC = load_gate("three-moment")


def metrics(leak_max_left: float, leak_max_right: float) -> dict[str, dict[str, float]]:
    return {"left": {"leak_max": leak_max_left}, "right": {"leak_max": leak_max_right}}


class FakeEvaluation:
    """What the item functions read: moment_evals(edit, variant)[moment].metrics; nothing rendered."""

    def __init__(self, per_variant: dict[tuple[str, str], dict[str, dict]]) -> None:
        self.per_variant = per_variant
        self.spec = SPEC

    def moment_evals(self, edit: str, variant: str):
        return {m: types.SimpleNamespace(metrics=v) for m, v in self.per_variant[(edit, variant)].items()}

    def frame_eval(self, edit: str, variant: str, moment: str):
        return self.moment_evals(edit, variant)[moment]


# -- item functions -------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected, passed, ok", [
    (0.05, "pass", True, True), (0.30, "pass", False, False),
    (0.30, "fail", False, True), (0.05, "fail", True, False), (0.30, "any", False, True)])
def test_check_compares_the_worse_eye_and_honours_the_declared_outcome(value, expected, passed, ok):
    ev = FakeEvaluation({("pear", "pre-fix"): {"full_blink": metrics(0.01, value)}})
    spec = CheckSpec("leak_max", "leak_max", "<=", 0.12, ("full_blink",))
    r = items.check(ev, CheckItem("pear", "pre-fix", "full_blink", spec, expected))
    assert (r.eye, r.value, r.passed, r.ok) == ("right", value, passed, ok)
    if not ok and expected == "fail":
        assert "no longer detects" in r.message


def test_ordering_compares_two_variants():
    ev = FakeEvaluation({("pear", "pre-fix"): {"full_blink": metrics(0.3, 0.1)},
                         ("hourglass", "pre-fix"): {"full_blink": metrics(0.2, 0.25)}})
    (o,) = SPEC.orderings
    o = dataclasses.replace(o, stat="leak_max")
    r = items.ordering(ev, o)
    assert (r.greater_value, r.lesser_value, r.ok) == (0.3, 0.25, True)


# -- inputs ---------------------------------------------------------------------------------------

def test_take_key_follows_the_content_not_just_the_name():
    w = np.zeros((10, 52), np.float32)
    a, b = Take.from_weights(w, source="a.csv"), Take.from_weights(w + 0.5, source="a.csv")
    assert take_key("takes/a.csv", a) != take_key("takes/a.csv", b)
    assert take_key("takes/a.csv", a) == take_key("other/a.csv", Take.from_weights(w.copy()))
    assert take_key("../../evil name.csv", a).startswith("evil_name-")


@pytest.mark.parametrize("source", ["synthetic:-1", "synthetic:x", "synthetic:"])
def test_bad_synthetic_take_sources_are_input_errors(source):
    with pytest.raises(InputError, match="synthetic:SEED"):
        load_take_source(source)


# -- artefacts ------------------------------------------------------------------------------------

@pytest.mark.parametrize("rel", ["../x.png", "/abs/x.png", "images/../../x.png"])
def test_artefact_paths_never_leave_their_root(tmp_path, rel):
    with pytest.raises(InputError, match="inside"):
        inside(tmp_path / "report", rel)
    assert inside(tmp_path / "report", "images/pear/x.png") == (tmp_path / "report" / "images/pear/x.png").absolute()


def test_artefacts_write_report_relative_pngs(tmp_path):
    frame = types.SimpleNamespace(rgb=np.ones((8, 8, 3), np.float32), E=np.zeros((8, 8), np.float32),
                                  regions={"left": np.ones((8, 8), bool), "right": np.zeros((8, 8), bool)},
                                  metrics=metrics(0.0, 0.0), plain=None)
    (row,) = Artefacts(tmp_path).moment_images("pear", "pre-fix", {"full_blink": frame}, {"full_blink": 7})
    assert row.frame == 7 and (tmp_path / row.magenta).is_file() and (tmp_path / row.heatmap).is_file()
    assert not row.magenta.startswith("/") and row.rgb is None
    # with the avatar's own colours evaluated, they are written beside the magenta render
    frame.plain = np.full((8, 8, 3), 0.5, np.float32)
    (row,) = Artefacts(tmp_path).moment_images("pear", "pre-fix", {"full_blink": frame}, {"full_blink": 7})
    assert row.rgb and (tmp_path / row.rgb).is_file() and row.rgb != row.magenta


# -- step list and missing moments ------------------------------------------------------------------

def session_with(moments: dict, missing_moment: str = "skip") -> GateSession:
    spec = dataclasses.replace(SPEC, missing_moment=missing_moment)
    s = GateSession(spec, "unused", backend="cpu")
    take = Take.from_weights(np.zeros((5, 52), np.float32))
    s.inputs = GateInputs("synthetic", None, take, "t-00000000", moments)  # cached_property: set directly
    s.avatar_check = {"implausible": False}  # the avatar item's record: no avatar here to check
    return s


def test_steps_cover_every_item_in_report_order():
    s = session_with({})
    ids = [st.item_id for st in s.steps()]
    plan = [i.item_id for i in SPEC.plan()]
    # the avatar's findings first, then the take's moments (a gate that checks nothing fails)
    assert ids[:3] == ["avatar/plausible", "avatar/blink_closure", "take/moments"]
    ids = ids[3:]
    assert ids[:len(plan)] == plan
    assert ids[len(plan)].startswith("ordering/")
    assert "post-fix/worst_closed/leak_max" in " ".join(ids)  # every closed-eye frame is gated
    assert ids[-1] == "hourglass/summary" and len(ids) == len(set(ids))
    assert {st.group for st in s.steps() if st.item_id.startswith("pear/pre-fix/")} == {"pear/pre-fix"}
    # A variant declared curve = false (the boost) has no leak-curve step; the others have one each.
    curves = [i for i in ids if i.endswith("/leak_curve")]
    assert len(curves) == 5 and not any("/boost/" in i for i in curves)


def test_a_variant_without_a_curve_evaluates_only_its_closed_eye_frames():
    from avatarcheck.arkit import arkit_index
    from avatarcheck.gate.evaluation import GateEvaluation

    weights = np.zeros((40, 52), np.float32)
    weights[np.ix_([7, 8, 30], [arkit_index("eyeBlinkLeft"), arkit_index("eyeBlinkRight")])] = 1.0  # closed
    ev = GateEvaluation(SPEC, GateInputs("synthetic", None, Take.from_weights(weights), "t-0", {}), "cpu")
    ev.evaluate = lambda edit, variant, frames, regions_only=False, coverage=True, with_rgb=False: [types.SimpleNamespace(metrics={})] * len(frames)
    assert sorted(ev.frame_metrics("pear", "boost")) == [7, 8, 30]
    assert sorted(ev.frame_metrics("pear", "post-fix")) == sorted(set(range(0, 40, SPEC.curve_stride)) | {7, 8, 30})


@pytest.mark.parametrize("policy, status", [("skip", "skip"), ("fail", "fail")])
def test_a_missing_moment_skips_or_fails_its_items_without_rendering(policy, status):
    gone = MissingMoment("eye_wide", "highest eyeWide where ...", 3, ("eyeWide >= 0.5 (frame 3: 0.100)",), {})
    s = session_with({"eye_wide": gone, "full_blink": Moment("full_blink", 1, "r", {}),
                      "half_blink_down": Moment("half_blink_down", 2, "r", {})}, policy)
    step = next(st for st in s.steps() if st.item_id == "pear/post-fix/eye_wide/eye_visible")
    out = step.run()  # no avatar is loaded: a skip must not render anything
    assert out.status == status and "eye_wide" in out.message and "frame 3" in out.message
    (skipped,) = s.skipped.values()
    assert skipped.failed == (policy == "fail")



@pytest.mark.parametrize("take, typed", [(None, "synthetic:1"), ("synthetic:7", "synthetic:7"),
                                         ("takes/my take.csv", "'takes/my take.csv'")])
def test_a_missing_golden_suggests_the_take_as_the_user_types_it(tmp_path, take, typed):
    """The suggested command's ``--gate-take`` is the run's take source (the gate's ``take`` unless one
    was given), not the Take's own description of itself (a synthetic take's generator call)."""
    from pathlib import Path

    from avatarcheck.gate.golden import GoldenSet

    s = GateSession(SPEC, tmp_path / "report", backend="cpu", take=take)
    described = Take.from_weights(np.zeros((5, 52), np.float32), source="synthetic_take(seed=1, num_frames=720, fps=60)")
    s.inputs = GateInputs("synthetic", None, described, "t-00000000", {"eye_wide": Moment("eye_wide", 0, "r", {})})
    s.avatar_check = {"implausible": False}
    s.golden_set = GoldenSet(tmp_path / "golden", Path("three-moment/synthetic/t-00000000"), "cpu", "user")
    frame = types.SimpleNamespace(rgb=np.full((8, 8, 3), 0.5, np.float32))
    s.evaluation = types.SimpleNamespace(spec=SPEC, inputs=s.inputs, backend="cpu",
                                         moment_evals=lambda edit, variant: {"eye_wide": frame})
    s._moment_images = lambda edit, variant: None  # nothing rendered: the golden item reads the frame above
    step = next(st for st in s.steps() if st.item_id == "unedited/baseline/eye_wide/golden")
    out = step.run()
    assert out.status == "fail" and "create it with: pytest --gate three-moment" in out.message
    assert f"--gate-take {typed} --golden-update" in out.message and "synthetic_take(" not in out.message

# -- plug-in points -----------------------------------------------------------------------------------

def test_a_new_edit_is_one_kind_plus_one_registry_entry_plus_gate_lines():
    from avatarcheck.avatar import synthetic_avatar
    from avatarcheck.edit.base import REQUIRED, EditKind
    from avatarcheck.edit.registry import EDITS, register_edit
    from avatarcheck.gate.evaluation import GateEvaluation

    class Inflate:
        """x -> c + k (x - c): every edge scales by k, so the ratio is k everywhere."""

        def __init__(self, centre: np.ndarray, k: float) -> None:
            self.centre, self.k = centre, k

        def __call__(self, p: np.ndarray) -> np.ndarray:
            return self.centre + self.k * (np.asarray(p, np.float64) - self.centre)

        def jacobian(self, p: np.ndarray) -> np.ndarray:
            return np.broadcast_to(self.k * np.eye(3), (len(p), 3, 3)).copy()

    kind = EditKind("inflate", "uniform scaling about the head centre", {"factor": (float, REQUIRED)},
                    lambda av, p, src: Inflate(av.head.v_template.mean(axis=0), p["factor"]))
    register_edit(kind)
    try:
        data = __import__("tomllib").loads(
            __import__("importlib.resources", fromlist=["files"]).files("avatarcheck.gate")
            .joinpath("gates", "three-moment.toml").read_text())
        data["edits"] = [{"name": "puffy", "kind": "inflate", "factor": 1.25}]
        data["orderings"] = []
        spec = parse_gate("three-moment", data, "toy.toml")
        assert spec.edit("puffy").params == {"factor": 1.25}
        inputs = GateInputs("synthetic", synthetic_avatar(), Take.from_weights(np.zeros((2, 52))), "t", {})
        ev = GateEvaluation(spec, inputs, "cpu")
        assets = ev.assets("puffy")
        np.testing.assert_allclose(assets.ratio, 1.25, rtol=1e-5)
        np.testing.assert_allclose(assets.jacobians, np.broadcast_to(1.25 * np.eye(3), assets.jacobians.shape),
                                   atol=1e-6)  # rigid eyes refit the eyeballs' similarity: float noise
        post = ev.variant("puffy", "post-fix")
        np.testing.assert_allclose(post.cloud.scales, inputs.avatar.cloud.scales * 1.25, rtol=1e-5)
        with pytest.raises(InputError, match=r"edits\[0\]\.factor"):
            data["edits"] = [{"name": "puffy", "kind": "inflate", "factor": "big"}]
            parse_gate("three-moment", data, "toy.toml")
    finally:
        EDITS.pop("inflate", None)


def test_a_new_gate_is_one_toml_file(tmp_path):
    text = __import__("importlib.resources", fromlist=["files"]).files("avatarcheck.gate").joinpath(
        "gates", "three-moment.toml").read_text()
    path = tmp_path / "blink-only.toml"
    path.write_text(text.replace('moments = ["eye_wide", "full_blink", "half_blink_down"]', 'moments = ["full_blink"]'))
    spec = load_gate(str(path))
    assert spec.name == "blink-only" and spec.moments == ("full_blink",)
    assert {i.moment for i in spec.plan()} == {"full_blink", "worst_closed"}
    with pytest.raises(InputError, match="gate name"):
        bad = tmp_path / "Bad Name.toml"
        bad.write_text(text)
        load_gate(str(bad))


def test_a_new_backend_is_one_module_plus_one_registry_entry():
    from avatarcheck.avatar import synthetic_avatar
    from avatarcheck.render.api import render
    from avatarcheck.render.backend import BACKENDS, Backend, backend_names, register_backend, resolve_backend

    toy = Backend("toy", "tests.test_gate_units:_toy_rasterize", lambda: True, lambda: "a toy", preference=-1)
    register_backend(toy)
    try:
        assert "toy" in backend_names() and resolve_backend("toy") is toy
        assert resolve_backend("auto").name == "cpu"  # auto prefers the real one
        av = synthetic_avatar()
        out = render(av.state("rgb"), av.camera(32), "toy")
        assert out.backend == "toy" and out.colors.shape == (1, 32, 32, 4)
        np.testing.assert_array_equal(out.colors[..., :3], 1.0)  # empty frame composited on white
        register_backend(Backend("offline", "x:y", lambda: False, lambda: "-"))
        with pytest.raises(InputError, match="not available"):
            resolve_backend("offline")
    finally:
        BACKENDS.pop("toy", None)
        BACKENDS.pop("offline", None)


def _toy_rasterize(state, camera, background):
    """A backend that draws nothing: transparent frames over the background."""
    B = state.num_frames
    colors = np.broadcast_to(background, (B, camera.height, camera.width, len(background))).astype(np.float32)
    return colors, np.zeros((B, camera.height, camera.width), np.float32)


def test_the_worst_closed_eye_frame_is_the_worst_among_closed_frames_only():
    from avatarcheck.gate.evaluation import GateEvaluation

    w = np.zeros((6, 52), np.float32)
    from avatarcheck.arkit import arkit_index

    for f, blink in enumerate([0.0, 0.95, 1.0, 0.5, 0.92, 0.89]):
        w[f, arkit_index("eyeBlinkLeft")] = w[f, arkit_index("eyeBlinkRight")] = blink
    inputs = GateInputs("synthetic", None, Take.from_weights(w), "t", {})
    ev = GateEvaluation(SPEC, inputs, "cpu")
    assert ev.closed_frames().tolist() == [1, 2, 4]   # blink >= 0.9 on both eyes
    # frame 3 leaks most but its eyes are open; among closed frames, 4 is worst (right eye)
    leak = {0: (0, 0), 1: (0.1, 0.05), 2: (0.02, 0.03), 3: (0.9, 0.9), 4: (0.01, 0.2), 5: (0.5, 0.5)}
    ev.frame_metrics = lambda e, v: {f: metrics(*lr) for f, lr in leak.items()}
    ev.evaluate = lambda e, v, frames, with_rgb=False: [types.SimpleNamespace(frame=int(frames[0]))]
    frame, fe = GateEvaluation.worst_closed.__wrapped__(ev, "pear", "post-fix")
    assert frame == 4 and fe.frame == 4


@pytest.mark.parametrize("rank_by, needs", [("leak_max", False), ("leak_area", False), ("coverage_p1", True),
                                            ("coverage_min", True)])
def test_the_leak_curve_renders_the_occluder_only_when_closed_frames_rank_by_coverage(rank_by, needs):
    from avatarcheck.gate.evaluation import GateEvaluation

    spec = dataclasses.replace(SPEC, closed_eye=dataclasses.replace(SPEC.closed_eye, rank_by=rank_by))
    inputs = GateInputs("synthetic", None, Take.from_weights(np.ones((8, 52), np.float32)), "t", {})
    ev = GateEvaluation(spec, inputs, "cpu")
    seen = []
    ev.evaluate = lambda e, v, frames, regions_only=False, coverage=True: (
        seen.append(coverage) or [types.SimpleNamespace(metrics={}) for _ in frames])
    ev.frame_metrics("pear", "post-fix")
    assert seen and set(seen) == {needs}


def test_a_take_file_is_parsed_once_per_content(tmp_path):
    # pytest --gate checks the take early and the session uses it: one parse of a long take, not two.
    import os
    import shutil
    from pathlib import Path

    src = sorted((Path(__file__).parents[1] / "recordings").glob("*.csv"))[0]
    path = tmp_path / "take.csv"
    shutil.copy(src, path)
    first = load_take_source(str(path))
    assert load_take_source(str(path)) is first
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]))          # one frame fewer: a different file
    os.utime(path, ns=(1, 1))
    again = load_take_source(str(path))
    assert again is not first and again.num_frames == first.num_frames - 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_identical_images_short_circuit_to_what_the_metrics_give(seed):
    # compare_images skips SSIM and FLIP for identical images: the values must be what they would give.
    from skimage.metrics import structural_similarity

    import flip_evaluator
    from avatarcheck.gate.golden import compare_images, quantise

    img = quantise(np.random.default_rng(seed).random((48, 40, 3)))
    same = compare_images(img, img.copy())
    assert (same.ssim, same.flip, same.max_abs) == (1.0, 0.0, 0.0) and not same.diff.any()
    assert structural_similarity(img, img, channel_axis=2, data_range=1.0) == pytest.approx(1.0, abs=1e-9)
    assert float(flip_evaluator.evaluate(img, img.copy(), "LDR")[1]) == pytest.approx(0.0, abs=1e-9)
    other = img.copy()
    other[5, 7] = 1.0 - other[5, 7]                   # one pixel off: the full metrics run
    diff = compare_images(img, other)
    assert diff.ssim < 1.0 and diff.flip > 0.0 and diff.max_abs > 0.0

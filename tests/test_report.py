"""The gate's HTML report: structure, self-containment, escaping, the latest link, colour helpers."""

from __future__ import annotations

import dataclasses
import html
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest

from avatarcheck.gate.result import (CheckResult, EditSummary, FaceImages, GateResult, GoldenResult, LeakCurve,
                                     MomentImages, OrderingResult)
from avatarcheck.io.images import write_png
from avatarcheck.report import heatmap_image, ratio_colors, write_report
from avatarcheck.report.plots import Series, histogram_svg, line_chart_svg

MOMENTS = {"eye_wide": 10, "full_blink": 40, "half_blink_down": 70}
VARIANTS = {"unedited": ["baseline"], "pear": ["pre-fix", "post-fix"], "hourglass": ["pre-fix", "post-fix"]}
FAILING_CHECK = "pear/post-fix/full_blink/leak_area"
FAILING_ORDERING = "order/full_blink/leak_area/pear>hourglass"
FAILING_GOLDEN = "golden/pear/pre-fix/full_blink"
MISSING_GOLDEN = "golden/hourglass/post-fix/eye_wide"
MISSING_CMD = "avatarcheck gate three-moment --update-goldens --only hourglass/post-fix/eye_wide"
EVIL = "<script>alert('x')</script> & friends"


def _png(root: Path, rel: str, shape: tuple[int, int] = (24, 40), seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    write_png(root / rel, rng.random((*shape, 3)))
    return rel


def _check(edit: str, variant: str, moment: str, stat: str, value: float, *, ok: bool = True,
           expected: str = "pass", message: str = "") -> CheckResult:
    passed = ok == (expected == "pass")
    return CheckResult(item_id=f"{edit}/{variant}/{moment}/{stat}", edit=edit, variant=variant, moment=moment,
                       check=stat, stat=stat, eye="left", value=value, op="<=", threshold=0.01, passed=passed,
                       expected=expected, ok=ok, message=message)


def _images(root: Path) -> list[MomentImages]:
    out = []
    for edit, variants in VARIANTS.items():
        for variant in variants:
            for k, (moment, frame) in enumerate(MOMENTS.items()):
                base = f"img/{edit}/{variant}/{moment}"
                E = np.linspace(0, 1, 24 * 40).reshape(24, 40)
                region = np.zeros((24, 40), bool)
                region[6:18, 8:32] = True
                write_png(root / f"{base}.heat.png", heatmap_image(E, region))
                out.append(MomentImages(edit, variant, moment, frame, _png(root, f"{base}.magenta.png", seed=k),
                                        f"{base}.heat.png",
                                        {"left": {"leak_max": 0.02 * k, "leak_area": 3.0 * k, "leak_mean": 0.01},
                                         "right": {"leak_max": 0.01 * k, "leak_area": 1.0 * k}}))
    return out


def _curves() -> list[LeakCurve]:
    frames = list(range(0, 100, 5))
    out = []
    for edit, variants in VARIANTS.items():
        for j, variant in enumerate(variants):
            bump = [0.1 * (j + 1) * np.exp(-((f - 40) / 8) ** 2) for f in frames]
            out.append(LeakCurve(edit, variant, frames, {"left": [b / 2 for b in bump], "right": bump},
                                 {"left": [b / 2 for b in bump], "right": bump}))
    return out


def _edits(root: Path) -> list[EditSummary]:
    return [EditSummary(edit, "chibi", {"preset": edit, "strength": 1.5}, {"min": 0.6, "median": 1.02, "max": 1.9, "mean": 1.05},
                        [3, 10, 40, 12, 5], [0.6, 0.86, 1.12, 1.38, 1.64, 1.9],
                        _png(root, f"edit/{edit}/ratio.png", (64, 64)) if edit == "pear" else None,
                        {"pre-fix": [{"channel": "scales", "severity": "error", "message": "scales not pulled back"},
                                    {"channel": "arkit_basis", "severity": "note", "message": EVIL}],
                         "post-fix": []})
            for edit in ("pear", "hourglass")]


def make_result(root: Path, *, failing: bool = True) -> GateResult:
    """A small three-moment result with its PNGs written under ``root`` (the report folder)."""
    checks = [_check(e, v, m, "leak_area", 0.001) for e, vs in VARIANTS.items() for v in vs for m in MOMENTS]
    checks.append(_check("pear", "pre-fix", "full_blink", "leak_max", 0.4, expected="fail"))  # artefact detected
    orderings = [OrderingResult(FAILING_ORDERING, "leak_area", "full_blink", "pear/pre-fix", "hourglass/pre-fix",
                                0.4, 0.1, True, "")]
    goldens = [GoldenResult("golden/pear/post-fix/eye_wide", "pear", "post-fix", "eye_wide", "cpu",
                            "three-moment/synthetic/pear/post-fix/eye_wide.cpu.png", "pass", 0.999, 0.001, 0.01,
                            {"ssim": 0.99, "flip": 0.02, "max_abs": 0.1}, "")]
    if failing:
        checks[[c.item_id for c in checks].index(FAILING_CHECK)] = _check(
            "pear", "post-fix", "full_blink", "leak_area", 0.3, ok=False, message=EVIL)
        orderings[0] = OrderingResult(FAILING_ORDERING, "leak_area", "full_blink", "pear/pre-fix",
                                      "hourglass/pre-fix", 0.05, 0.1, False, "pear should leak more")
        goldens += [
            GoldenResult(FAILING_GOLDEN, "pear", "pre-fix", "full_blink", "cpu",
                         "three-moment/synthetic/pear/pre-fix/full_blink.cpu.png", "fail", 0.91, 0.08, 0.5,
                         {"ssim": 0.99, "flip": 0.02, "max_abs": 0.1}, "SSIM below tolerance",
                         _png(root, "golden/pear-prefix-full_blink.golden.png"),
                         _png(root, "golden/pear-prefix-full_blink.result.png", seed=1),
                         _png(root, "golden/pear-prefix-full_blink.diff.png", seed=2)),
            GoldenResult(MISSING_GOLDEN, "hourglass", "post-fix", "eye_wide", "cpu",
                         "three-moment/synthetic/hourglass/post-fix/eye_wide.cpu.png", "missing", None, None, None,
                         {"ssim": 0.99}, f"no golden; create it with: {MISSING_CMD}", None,
                         _png(root, "golden/hourglass-postfix-eye_wide.result.png", seed=3), None),
        ]
    return GateResult(
        gate="three-moment", avatar="synthetic", take="blink_take.json", backend="cpu", device="cpu",
        image_size=256, moments={m: {"frame": f, "reason": f"{m} extreme", "values": {"eyeBlinkLeft": 0.5}}
                                 for m, f in MOMENTS.items()},
        checks=checks, orderings=orderings, goldens=goldens, images=_images(root), curves=_curves(),
        edits=_edits(root), versions={"avatarcheck": "0.1.0", "gsplat": "1.5.3"},
        timings={"render": 1.25, "metrics": 0.5}, created="2026-05-09T12:00:00+00:00", notes=["a note"],
        variants={"baseline": {"role": "reference"}, "pre-fix": {"role": "must-fail"}, "post-fix": {"role": "must-pass"}})


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Checker(HTMLParser):
    """Tag balance (every non-void element closed, in order) and the <img> sources."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, tuple[int, int]]] = []
        self.errors: list[str] = []
        self.imgs: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "img":
            self.imgs.append(dict(attrs))
        if tag not in VOID:
            self.stack.append((tag, self.getpos()))

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if tag == "img":
            self.imgs.append(dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append(f"</{tag}> at {self.getpos()} closes {self.stack[-1] if self.stack else 'nothing'}")
        else:
            self.stack.pop()


def _parse(text: str) -> _Checker:
    p = _Checker()
    p.feed(text)
    p.close()
    return p


@pytest.fixture()
def failing_report(tmp_path: Path) -> tuple[GateResult, Path, str]:
    report = tmp_path / "reports" / "20260509-120000"
    result = make_result(report)
    index = write_report(result, report)
    return result, report, index.read_text(encoding="utf-8")


def test_page_is_wellformed_and_self_contained(failing_report):
    _, report, text = failing_report
    assert text.startswith("<!DOCTYPE html>")
    p = _parse(text)
    assert not p.errors and not p.stack, (p.errors, p.stack)
    assert len(p.imgs) > 20
    root = report.resolve()
    for img in p.imgs:
        path = (root / unquote(img["src"])).resolve()
        assert path.is_file() and path.is_relative_to(root), img["src"]
        assert img.get("alt"), img
    assert "http://" not in text and "https://" not in text
    assert "<link" not in text and "<script" not in text  # CSS inline, no JS


def test_failures_come_first_and_badge_says_fail(failing_report):
    _, _, text = failing_report
    assert re.search(r'<span class="badge bad big">FAIL</span>', text)
    start, grids = text.index('<section id="failures">'), text.index('<section id="grids">')
    for item in (FAILING_CHECK, FAILING_ORDERING, FAILING_GOLDEN, MISSING_GOLDEN):
        assert start < text.index(html.escape(item)) < grids, item
    assert MISSING_CMD in text[start:grids]
    assert "eyeBlinkLeft 0.5" in text[:start]  # the moments table, in the header
    # The passing golden and the expected-fail check are not failures.
    assert "golden/pear/post-fix/eye_wide" not in text[start:grids]
    assert "pear/pre-fix/full_blink/leak_max" not in text[start:grids]


def test_cells_are_outlined_by_their_checks(failing_report):
    _, _, text = failing_report
    grid = text[text.index('<section id="grids">'):text.index('<section id="goldens">')]
    assert grid.count('<figure class="cell bad">') == 1  # pear/post-fix/full_blink only
    # 5 variant rows + the unedited reference row in both edit grids, x 3 moments.
    assert grid.count('<figure class="cell ok">') == (5 + 2) * 3 - 1
    assert "artefact detected" in grid and 'class="px"' in grid


def test_all_ok_result_says_pass(tmp_path):
    report = tmp_path / "r"
    index = write_report(make_result(report, failing=False), report, link_latest=False)
    text = index.read_text(encoding="utf-8")
    assert '<span class="badge ok big">PASS</span>' in text and ">FAIL<" not in text
    assert "No failures" in text
    assert not (tmp_path / "latest").exists()


def test_result_json_round_trips(failing_report):
    result, report, _ = failing_report
    loaded = GateResult.load(report / "result.json")
    assert loaded == result and not loaded.ok


def test_latest_points_at_newest_report(tmp_path):
    reports = tmp_path / "reports"
    for name in ("run-a", "run-b"):
        write_report(make_result(reports / name), reports / name)
    latest = reports / "latest"
    assert latest.is_symlink() and os.readlink(latest) == "run-b"  # relative: the folder can move
    assert (latest / "index.html").is_file()
    assert not list(reports.glob(".latest*"))  # the temp link was renamed, not left behind


def test_latest_falls_back_to_a_redirect_page(tmp_path, monkeypatch):
    def no_symlinks(*args, **kwargs):
        raise OSError("symlinks not supported here")

    monkeypatch.setattr(os, "symlink", no_symlinks)
    report = tmp_path / "reports" / "run-c"
    write_report(make_result(report, failing=False), report)
    page = (tmp_path / "reports" / "latest.html").read_text(encoding="utf-8")
    assert 'url=run-c/index.html' in page and not (tmp_path / "reports" / "latest").exists()
    assert not _parse(page).errors


def test_latest_that_is_a_real_folder_is_left_alone(tmp_path):
    reports = tmp_path / "reports"
    (reports / "latest").mkdir(parents=True)
    (reports / "latest" / "keep.txt").write_text("mine")
    write_report(make_result(reports / "run-d", failing=False), reports / "run-d")
    assert (reports / "latest" / "keep.txt").read_text() == "mine"
    assert "run-d/index.html" in (reports / "latest.html").read_text(encoding="utf-8")
    assert not list(reports.glob(".latest*"))


def test_curve_chart_has_one_polyline_per_variant_and_a_mark_per_moment(failing_report):
    _, _, text = failing_report
    section = text[text.index('<section id="curves">'):text.index('<section id="edits">')]
    charts = re.findall(r"<svg .*?</svg>", section, flags=re.S)
    assert len(charts) == 2  # pear, hourglass; each with the unedited baseline
    for svg in charts:
        assert svg.count("<polyline") == 3
        assert svg.count('class="moment"') == len(MOMENTS)
        for moment in MOMENTS:
            assert f">{moment}</text>" in svg
    svg = line_chart_svg([Series("a", [0, 1, 2], [0.0, float("nan"), 1.0], "#000")], markers=[(1, "m")],
                         title="t", x_label="x", y_label="y", chart_id="c")
    assert svg.count("<polyline") == 1 and svg.count('class="moment"') == 1
    assert len(re.search(r'points="([^"]*)"', svg).group(1).split()) == 2  # the NaN point is skipped


def test_histogram_and_ratio_image(failing_report):
    _, _, text = failing_report
    section = text[text.index('<section id="edits">'):text.index('<section id="audit">')]
    assert section.count("<svg ") == 2 and "1.02" in section and 'src="edit/pear/ratio.png"' in section
    svg = histogram_svg([1, 2, 3], [0.5, 1.0, 1.5, 2.0], title="h", chart_id="h")
    assert svg.count("<rect") == 3 + 1  # bars + plot frame
    with pytest.raises(ValueError):
        histogram_svg([1, 2], [0.0, 1.0], title="h", chart_id="h")


def test_audit_findings_are_listed_by_severity(failing_report):
    _, _, text = failing_report
    section = text[text.index('<section id="audit">'):text.index('<section id="checks">')]
    assert section.count('class="sev-error"') == 2 and section.count('class="sev-note"') == 2
    assert section.count("No findings") == 2


def test_messages_are_escaped(failing_report):
    _, _, text = failing_report
    assert "<script>" not in text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; friends" in text


def test_missing_image_is_a_placeholder_not_a_broken_link(tmp_path):
    report = tmp_path / "r"
    result = make_result(report, failing=False)
    (report / result.images[0].magenta).unlink()
    result.edits[0].ratio_image = "../outside.png"  # outside the folder: never linked
    (tmp_path / "outside.png").write_bytes((report / result.images[1].magenta).read_bytes())
    text = write_report(result, report, link_latest=False).read_text(encoding="utf-8")
    for img in _parse(text).imgs:
        assert (report / unquote(img["src"])).is_file()
    assert "image missing" in text and result.images[0].magenta in text and "outside.png" in text


def test_heatmap_image_shape_range_and_dimming():
    E = np.linspace(-0.5, 1.5, 6 * 8).reshape(6, 8)
    E[0, 0] = np.nan
    region = np.zeros((6, 8), bool)
    region[2:4] = True
    rgb = heatmap_image(E, region)
    assert rgb.shape == (6, 8, 3) and rgb.dtype == np.float32
    assert np.isfinite(rgb).all() and rgb.min() >= 0 and rgb.max() <= 1
    full = heatmap_image(E)
    np.testing.assert_array_equal(rgb[region], full[region])
    lum = full.sum(-1)
    assert lum[3, 7] > lum[2, 0]  # brighter with more leak (monotone luminance)
    # Outside the region everything is compressed toward grey: lower contrast than inside.
    assert np.ptp(rgb[~region].sum(-1)) < np.ptp(full[~region].sum(-1))
    assert heatmap_image(np.zeros((2, 2)), np.ones((2, 2), bool)).max() < 0.02  # no leak reads black
    with pytest.raises(ValueError):
        heatmap_image(E, region[:3])


def test_ratio_colors_diverge_around_one():
    c = ratio_colors(np.array([1.0, 0.5, 2.0, 0.8, 1.25, np.nan, 0.0]))
    assert c.shape == (7, 3) and c.min() >= 0 and c.max() <= 1
    np.testing.assert_allclose(c[0], 1.0)
    assert c[1, 2] > c[1, 0] + 0.3 and c[2, 0] > c[2, 2] + 0.3  # blue below 1, red above
    assert c[3, 2] > c[3, 0] and c[4, 0] > c[4, 2]
    # Symmetric in log space: r and 1/r are about equally far from white, and saturate together.
    np.testing.assert_allclose(np.abs(1 - c[3]).sum(), np.abs(1 - c[4]).sum(), rtol=0.2)
    ends = ratio_colors(np.array([0.5, 0.25, 2.0, 4.0]))
    np.testing.assert_array_equal(ends[[0, 2]], ends[[1, 3]])
    np.testing.assert_allclose(c[5:], 0.5)  # NaN and non-positive: grey


def test_sharpness_section_shows_the_face_crops_side_by_side_with_their_numbers(tmp_path):
    report = tmp_path / "r"
    result = make_result(report, failing=False)
    values = {("unedited", "baseline"): 1.0, ("pear", "post-fix"): 0.944, ("pear", "boost"): 0.695}
    for (edit, variant), value in values.items():
        result.faces.append(FaceImages(edit, variant, "eye_wide", 40, _png(report, f"img/{edit}/{variant}/face.png"),
                                       value, 800))
        c = _check(edit, variant, "eye_wide", "sharpness", value, expected="fail" if variant == "boost" else "pass")
        result.checks.append(dataclasses.replace(c, eye="face", op=">=", threshold=0.8))
    text = write_report(result, report, link_latest=False).read_text(encoding="utf-8")
    section = text[text.index('<section id="sharpness">'):text.index('<section id="edits">')]
    assert section.count("<img") == 3          # one row (pear): the unedited reference, then its variants
    assert section.index("<b>1</b>") < section.index("0.944") < section.index("0.695")
    assert "0.944" in section and "0.695" in section and "declared fail" in section
    assert GateResult.load(report / "result.json").faces == result.faces
    assert 'id="sharpness"' not in write_report(make_result(tmp_path / "s"), tmp_path / "s").read_text()

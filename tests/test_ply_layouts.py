"""The two splat PLY layouts (LAM's offset + RGB, standard 3DGS absolute + SH): round trips,
detection, forced layouts and the errors that name the evidence (``splats/ply.py``)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from plyfile import PlyData, PlyElement

from avatarcheck.errors import InputError
from avatarcheck.splats.cloud import LABEL_NAMES, SplatCloud
from avatarcheck.splats.ply import read_ply, read_ply_layout, write_ply

C0 = 0.28209479177387814  # Y_0^0, written out here so the tests do not lean on rgb_to_sh
LAM_17 = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
          "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]


def anchors_in(frame: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 3) float32 head-surface anchors: a FLAME-like head centred near the origin (extent
    ~0.2 m) or the same head in LAM's OAC body frame (y ~1.5-1.8 m)."""
    d = rng.normal(size=(n, 3))
    head = d / np.linalg.norm(d, axis=1, keepdims=True) * [0.08, 0.1, 0.09]
    return (head + ([0.0, 1.65, 0.0] if frame == "body" else 0.0)).astype(np.float32)


def cloud_of(n: int, rng: np.random.Generator, degree: int = 0, rgb_range=(0.0, 1.0), offset_mm: float = 5.0,
             opacity_range=(0.0, 1.0)) -> tuple[SplatCloud, np.ndarray]:
    """A random cloud with offsets within +-offset_mm per axis, and the RGB its colours encode (n, 3)."""
    rgb = rng.uniform(*rgb_range, (n, 3))
    sh = rng.normal(0, 0.3, (n, (degree + 1) ** 2, 3))
    sh[:, 0] = (rgb - 0.5) / C0
    q = rng.normal(size=(n, 4))
    cloud = SplatCloud(offsets=rng.uniform(-offset_mm, offset_mm, (n, 3)) * 1e-3,
                       scales=rng.uniform(1e-4, 1e-2, (n, 3)), quats=q / np.linalg.norm(q, axis=1, keepdims=True),
                       opacities=rng.uniform(*opacity_range, n), sh=sh, labels=rng.integers(0, len(LABEL_NAMES), n))
    return cloud, rgb


def vertex(path) -> np.ndarray:
    return PlyData.read(str(path))["vertex"].data


def write_columns(path, **cols) -> None:
    """A binary PLY with the given float32 columns, in the given order."""
    n = len(next(iter(cols.values())))
    data = np.empty(n, dtype=[(k, "f4") for k in cols])
    for k, col in cols.items():
        data[k] = col
    PlyData([PlyElement.describe(data, "vertex")]).write(str(path))


def lam_columns(xyz: np.ndarray, f_dc: np.ndarray, **extra) -> dict:
    """LAM's 17 columns for positions (n, 3) and colours (n, 3), plus ``extra`` (e.g. f_rest_*)."""
    n = len(xyz)
    cols = {"x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2], "nx": np.zeros(n), "ny": np.zeros(n), "nz": np.zeros(n),
            "f_dc_0": f_dc[:, 0], "f_dc_1": f_dc[:, 1], "f_dc_2": f_dc[:, 2], **extra, "opacity": np.zeros(n)}
    cols.update({f"scale_{i}": np.full(n, np.log(0.005)) for i in range(3)})
    cols.update({"rot_0": np.ones(n), "rot_1": np.zeros(n), "rot_2": np.zeros(n), "rot_3": np.zeros(n)})
    return cols


# --- round trips ---------------------------------------------------------------------------------

@given(st.integers(1, 40), st.integers(0, 2**32 - 1), st.sampled_from(["body", "flame"]))
def test_lam_round_trip(tmp_path_factory, n, seed, frame):
    rng = np.random.default_rng(seed)
    cloud, rgb = cloud_of(n, rng, rgb_range=(-0.2, 1.2))  # colours beyond [0, 1] are clipped on writing
    anchors = anchors_in(frame, n, rng)
    path = tmp_path_factory.mktemp("lam") / "offset.ply"
    write_ply(path, cloud, anchors, layout="lam")
    back, decision = read_ply_layout(path, anchors)
    assert (decision.layout, decision.forced) == ("lam", False), decision.evidence
    np.testing.assert_array_equal(back.offsets, cloud.offsets)  # x y z are the float32 offsets, untouched
    np.testing.assert_allclose(back.rgb, np.clip(rgb, 0, 1), atol=2e-6)
    np.testing.assert_allclose(back.opacities, np.clip(cloud.opacities, 1e-3, 1 - 1e-3), rtol=1e-5)
    np.testing.assert_allclose(back.scales, cloud.scales, rtol=1e-6)
    np.testing.assert_allclose(back.quats, cloud.quats, atol=1e-6)
    assert back.sh_degree == 0 and (back.labels == 0).all()  # LAM's layout carries no labels


@given(st.integers(1, 40), st.integers(0, 3), st.integers(0, 2**32 - 1), st.sampled_from(["body", "flame"]))
def test_3dgs_round_trip(tmp_path_factory, n, degree, seed, frame):
    rng = np.random.default_rng(seed)
    cloud, _ = cloud_of(n, rng, degree=degree)
    anchors = anchors_in(frame, n, rng)
    path = tmp_path_factory.mktemp("3dgs") / "point_cloud.ply"
    write_ply(path, cloud, anchors)
    back, decision = read_ply_layout(path, anchors)
    assert (decision.layout, decision.forced) == ("3dgs", False), decision.evidence
    v = vertex(path)
    xyz = np.stack([v["x"], v["y"], v["z"]], axis=1)
    np.testing.assert_array_equal(xyz, anchors + cloud.offsets)  # absolute, as float32
    np.testing.assert_allclose(back.offsets, cloud.offsets, atol=1e-6)
    np.testing.assert_array_equal(back.sh, cloud.sh)
    np.testing.assert_allclose(back.opacities, cloud.opacities, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(back.labels, cloud.labels)


# --- LAM's file, exactly -------------------------------------------------------------------------

def test_lam_file_has_lams_17_properties_in_order(tmp_path):
    cloud, rgb = cloud_of(6, np.random.default_rng(0))
    cloud = cloud.replace(opacities=np.array([0.0, 1.0, 0.5, 0.2, 0.9, 0.0005]))
    write_ply(tmp_path / "offset.ply", cloud, anchors_in("body", 6, np.random.default_rng(1)), layout="lam")
    raw = (tmp_path / "offset.ply").read_bytes()
    header = raw[: raw.index(b"end_header")].decode().splitlines()
    assert header[1] == "format binary_little_endian 1.0" and header[2] == "element vertex 6"
    assert header[3:] == [f"property float {name}" for name in LAM_17]  # 17, in order, no f_rest, no label
    v = vertex(tmp_path / "offset.ply")
    assert (v["nx"] == 0).all() and (v["ny"] == 0).all() and (v["nz"] == 0).all()
    np.testing.assert_allclose(np.stack([v["f_dc_0"], v["f_dc_1"], v["f_dc_2"]], axis=1), rgb, atol=1e-6)
    # LAM's clamp: logit(1e-3) = -6.9068 for opacity 0 and for 0.0005, +6.9068 for 1
    np.testing.assert_allclose(v["opacity"][[0, 1, 2, 5]], [-6.906755, 6.906755, 0.0, -6.906755], atol=1e-5)
    np.testing.assert_allclose(np.exp(v["scale_2"]), cloud.scales[:, 2], rtol=1e-6)
    np.testing.assert_array_equal(v["rot_0"], cloud.quats[:, 0])  # w first


def lam_load_ply(path) -> dict:
    """What LAM's ``GaussianModel.load_ply`` does with a file (its reads and reshapes, in numpy):
    it fixes sh_degree at 0, so any f_rest breaks its reshape."""
    el = PlyData.read(str(path)).elements[0]
    n = len(el["x"])
    rest_names = [p.name for p in el.properties if p.name.startswith("f_rest_")]
    rest = np.zeros((n, len(rest_names)))
    rest.reshape((n, 3, 0))  # (sh_degree + 1) ** 2 - 1 == 0 coefficients per channel
    by_prefix = {p: sorted((q.name for q in el.properties if q.name.startswith(p)), key=lambda s: int(s.split("_")[-1]))
                 for p in ("scale_", "rot_")}
    return {"xyz": np.stack([el["x"], el["y"], el["z"]], axis=1), "opacity": np.asarray(el["opacity"]),
            "f_dc": np.stack([el[f"f_dc_{i}"] for i in range(3)], axis=1),
            "scale": np.stack([el[s] for s in by_prefix["scale_"]], axis=1),
            "rot": np.stack([el[s] for s in by_prefix["rot_"]], axis=1)}


def test_lam_loader_reads_what_we_write(tmp_path):
    rng = np.random.default_rng(3)
    cloud, rgb = cloud_of(20, rng, opacity_range=(0.01, 0.99))
    write_ply(tmp_path / "offset.ply", cloud, anchors_in("flame", 20, rng), layout="lam")
    lam = lam_load_ply(tmp_path / "offset.ply")
    np.testing.assert_array_equal(lam["xyz"], cloud.offsets)
    np.testing.assert_allclose(lam["f_dc"], rgb, atol=1e-6)
    np.testing.assert_allclose(1 / (1 + np.exp(-lam["opacity"])), cloud.opacities, rtol=1e-5)
    np.testing.assert_allclose(np.exp(lam["scale"]), cloud.scales, rtol=1e-6)
    np.testing.assert_allclose(lam["rot"], cloud.quats, atol=1e-7)
    # ... and our standard file, with f_rest, is one LAM's loader cannot take
    write_ply(tmp_path / "sh.ply", cloud_of(20, rng, degree=1)[0], np.zeros((20, 3)))
    with pytest.raises(ValueError):
        lam_load_ply(tmp_path / "sh.ply")


def test_lam_layout_refuses_higher_sh_degree(tmp_path):
    cloud, _ = cloud_of(5, np.random.default_rng(0), degree=2)
    with pytest.raises(InputError, match=r"sh: .*degree-0.*SH degree 2"):
        write_ply(tmp_path / "x.ply", cloud, np.zeros((5, 3)), layout="lam")
    assert not (tmp_path / "x.ply").exists()


# --- detection -----------------------------------------------------------------------------------

def lam_like(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 3) offsets shaped like LAM's: median |offset| a few mm, 99th percentile under ~2 cm."""
    d = rng.normal(size=(n, 3))
    return d / np.linalg.norm(d, axis=1, keepdims=True) * rng.lognormal(np.log(3e-3), 0.7, (n, 1))


@pytest.mark.parametrize("frame", ["body", "flame"])
def test_detects_lam_on_body_and_flame_anchors(tmp_path, frame):
    rng = np.random.default_rng(5)
    n = 2000
    anchors = anchors_in(frame, n, rng)
    if frame == "flame":  # origin-centred, head extent ~0.2 m
        assert 0.15 < np.ptp(anchors, axis=0).max() < 0.25 and np.abs(anchors.mean(axis=0)).max() < 0.02
    write_columns(tmp_path / "offset.ply", **lam_columns(lam_like(n, rng), rng.uniform(0.1, 0.9, (n, 3))))
    cloud, decision = read_ply_layout(tmp_path / "offset.ply", anchors)
    assert decision.layout == "lam" and not decision.forced
    assert "d_off = median |xyz| = " in decision.evidence and "f_dc in [0.1" in decision.evidence
    np.testing.assert_allclose(np.median(np.linalg.norm(cloud.offsets, axis=1)), 3e-3, rtol=0.1)


@pytest.mark.parametrize("frame", ["body", "flame"])
def test_detects_3dgs_even_with_dc_inside_0_1(tmp_path, frame):
    rng = np.random.default_rng(6)
    anchors = anchors_in(frame, 500, rng)
    offsets = lam_like(500, rng)
    # degree 0 and every SH DC value inside [0, 1]: colours prove nothing, positions decide
    write_columns(tmp_path / "pc.ply", **lam_columns(anchors + offsets, rng.uniform(0.05, 0.95, (500, 3))))
    cloud, decision = read_ply_layout(tmp_path / "pc.ply", anchors)
    assert decision.layout == "3dgs" and not decision.forced
    np.testing.assert_allclose(cloud.offsets, offsets, atol=1e-6)


def test_forced_3dgs_on_a_lam_file_moves_every_splat(tmp_path):
    rng = np.random.default_rng(7)
    cloud, _ = cloud_of(50, rng)
    anchors = anchors_in("body", 50, rng)
    write_ply(tmp_path / "offset.ply", cloud, anchors, layout="lam")
    auto = read_ply(tmp_path / "offset.ply", anchors)
    forced, decision = read_ply_layout(tmp_path / "offset.ply", anchors, layout="3dgs")
    assert (decision.layout, decision.forced) == ("3dgs", True)
    moved = np.linalg.norm((anchors + forced.offsets) - (anchors + auto.offsets), axis=1)
    assert moved.min() > 1.4  # read as absolute, each centre lands near the origin instead of on the head
    assert np.abs(forced.rgb - auto.rgb).max() > 0.05  # and RGB read as SH shifts the colours
    lam, decision = read_ply_layout(tmp_path / "offset.ply", anchors, layout="lam")
    assert (decision.layout, decision.forced) == ("lam", True) and "d_off" in decision.evidence
    np.testing.assert_array_equal(lam.offsets, auto.offsets)


@pytest.mark.parametrize("extra,dc,colour_words", [
    ({f"f_rest_{i}": np.zeros(40) for i in range(9)}, (0.1, 0.8), ["f_dc in [0.1, 0.8]", "9 f_rest"]),
    ({}, (-1.5, 0.8), ["f_dc in [-1.5, 0.8]", "0 f_rest"]),
])
def test_lam_positions_with_sh_colours_are_inconsistent(tmp_path, extra, dc, colour_words):
    xyz = np.tile([0.003, 0.0, 0.0], (40, 1))  # d_off exactly 3 mm
    f_dc = np.column_stack([np.full(40, dc[0]), np.full(40, dc[1]), np.linspace(*dc, 40)])
    write_columns(tmp_path / "mixed.ply", **lam_columns(xyz, f_dc, **extra))
    anchors = np.tile([0.0, 1.6, 0.0], (40, 1))  # d_abs 1.6 m
    with pytest.raises(InputError) as err:
        read_ply(tmp_path / "mixed.ply", anchors)
    msg = str(err.value)
    assert "mixed.ply" in msg and "inconsistent" in msg and "--ply-layout" in msg
    for words in ["positions say lam", "d_off = median |xyz| = 3 mm", "1.6 m", "colours prove SH", *colour_words]:
        assert words in msg, (words, msg)
    assert read_ply_layout(tmp_path / "mixed.ply", anchors, layout="3dgs")[1].forced  # the way out


def test_degenerate_anchors_at_the_origin_are_ambiguous(tmp_path):
    rng = np.random.default_rng(8)
    anchors = rng.normal(0, 1e-4, (100, 3))  # all within a millimetre of the origin
    xyz = np.tile([0.0, 0.0, 0.004], (100, 1))  # 4 mm: offsets or positions, nobody can tell
    f_dc = np.tile([0.2, 0.5, 0.7], (100, 1))
    write_columns(tmp_path / "tiny.ply", **lam_columns(xyz, f_dc))
    with pytest.raises(InputError) as err:
        read_ply(tmp_path / "tiny.ply", anchors)
    msg = str(err.value)
    for words in ["tiny.ply", "ambiguous PLY layout", "--ply-layout lam|3dgs", "d_off = median |xyz| = 4 mm",
                  "d_abs = median |xyz - anchor| = ", "(ratio 1", "f_dc in [0.2, 0.7]", "near the origin"]:
        assert words in msg, (words, msg)
    for layout in ("lam", "3dgs"):  # forcing settles it
        assert read_ply_layout(tmp_path / "tiny.ply", anchors, layout=layout)[1].layout == layout
    # SH colours settle it too: unclear positions, but f_rest proves 3dgs
    write_columns(tmp_path / "sh.ply", **lam_columns(xyz, f_dc, **{f"f_rest_{i}": np.zeros(100) for i in range(9)}))
    assert read_ply_layout(tmp_path / "sh.ply", anchors)[1].layout == "3dgs"


def test_broken_export_with_large_offsets_is_ambiguous(tmp_path):
    # A broken LAM export (median offset 54 mm) on FLAME-like anchors: 54 mm vs ~0.1 m is no 4x.
    rng = np.random.default_rng(9)
    anchors = anchors_in("flame", 300, rng)
    d = rng.normal(size=(300, 3))
    xyz = d / np.linalg.norm(d, axis=1, keepdims=True) * 0.054
    write_columns(tmp_path / "broken.ply", **lam_columns(xyz, rng.uniform(0, 1, (300, 3))))
    with pytest.raises(InputError, match=r"ambiguous PLY layout: d_off = median \|xyz\| = 54 mm.*") as err:
        read_ply(tmp_path / "broken.ply", anchors)
    assert "--ply-layout lam|3dgs" in str(err.value) and "near the origin" not in str(err.value)
    assert read_ply_layout(tmp_path / "broken.ply", anchors, layout="lam")[1].layout == "lam"


# --- forced and unknown layouts ------------------------------------------------------------------

def test_forced_lam_on_sh_data_is_refused(tmp_path):
    rng = np.random.default_rng(10)
    cloud, _ = cloud_of(30, rng, degree=1)
    write_ply(tmp_path / "sh.ply", cloud, np.zeros((30, 3)))
    with pytest.raises(InputError, match=r"sh\.ply: ply layout: .*--ply-layout 3dgs.*9 f_rest"):
        read_ply(tmp_path / "sh.ply", np.zeros((30, 3)), layout="lam")
    write_columns(tmp_path / "dc.ply", **lam_columns(np.zeros((30, 3)), rng.uniform(-2, 3, (30, 3))))
    with pytest.raises(InputError, match=r"dc\.ply: ply layout: .*SH colours: f_dc in \[-"):
        read_ply(tmp_path / "dc.ply", np.zeros((30, 3)), layout="lam")
    # float rounding just outside [0, 1] is still RGB
    write_columns(tmp_path / "rgb.ply", **lam_columns(np.zeros((30, 3)), np.tile([-0.005, 0.5, 1.005], (30, 1))))
    assert read_ply_layout(tmp_path / "rgb.ply", np.zeros((30, 3)), layout="lam")[1].layout == "lam"


def test_unknown_layout_names_the_choices(tmp_path):
    write_ply(tmp_path / "c.ply", cloud_of(3, np.random.default_rng(0))[0], np.zeros((3, 3)))
    with pytest.raises(InputError, match=r"c\.ply: ply layout: expected auto \| lam \| 3dgs, got 'LAM'"):
        read_ply(tmp_path / "c.ply", np.zeros((3, 3)), layout="LAM")
    with pytest.raises(InputError, match=r"ply layout: expected lam \| 3dgs, got 'auto'"):
        write_ply(tmp_path / "d.ply", cloud_of(3, np.random.default_rng(0))[0], np.zeros((3, 3)), layout="auto")

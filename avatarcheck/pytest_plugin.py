"""pytest plugin: ``pytest --gate three-moment`` runs a gate, in any directory, with no test files.

One test item per (edit, variant, moment, check), per declared ordering, per golden image, plus one
per leak curve and edit summary (they feed the report). A moment the take lacks skips its items
with the reason (or fails them: ``missing_moment = "fail"`` in the gate file). Your own tests run
beside the gate's unless ``--gate-only``. Under pytest-xdist each worker evaluates what its items
need and writes a partial result; the controller merges them into one HTML report.

Every option is also an ini key (``[tool.pytest.ini_options] gate_backend = "cpu"``); the command
line wins. To gate your own avatar from your own test module, use the ``avatar_gate`` fixture::

    def test_my_avatar(avatar_gate):
        result = avatar_gate(avatar="assets/me", take="takes/blinks.csv")
        assert result.ok, result.failures
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest

from avatarcheck.errors import InputError

_KEY = pytest.StashKey["GateRun"]()
_REPORT = pytest.StashKey[tuple]()  # (index.html path, ok) once the controller has written the report

# option name (without "--") -> (ini key, default, help); one table for both spellings.
_OPTIONS: dict[str, tuple[str, Any, str]] = {
    "gate": ("gate", None, "run a packaged gate (three-moment)"),
    "gate-backend": ("gate_backend", "auto", "renderer (avatarcheck.render.backend): auto, cpu, cuda"),
    "gate-avatar": ("gate_avatar", None, "LAM's OAC zip or folder, LAM's infer output, a FLAME folder or head .npz, "
                    "or synthetic[:lam-trained] (default: the embedded avatar)"),
    "gate-ply-layout": ("gate_ply_layout", "auto", "how to read a splat PLY: auto | lam | 3dgs"),
    "gate-take": ("gate_take", None, "a Live Link Face .csv/.npz take, or synthetic:SEED (default: the gate file's)"),
    "gate-golden-dir": ("gate_golden_dir", "golden", "golden image root (the embedded avatar's goldens ship with "
                        "the package: used when this root has none)"),
    "gate-report-dir": ("gate_report_dir", "reports", "HTML reports go to DIR/<timestamp>-<gate>/ (-2, -3... for "
                        "runs in the same second) and DIR/latest"),
    "gate-pyproject": ("gate_pyproject", None, "read [tool.avatarcheck.\"<gate>\"] here (default: ./pyproject.toml)"),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("avatarcheck", "avatarcheck gates")
    for name, (ini, default, help_text) in _OPTIONS.items():
        g.addoption(f"--{name}", dest=ini, default=None, metavar="VALUE", help=f"{help_text} (ini: {ini})")
        parser.addini(ini, help_text, default=default)
    g.addoption("--gate-golden-update", "--golden-update", dest="gate_golden_update", action="store_true",
                help="write new golden images (nothing else writes them)")
    g.addoption("--gate-only", dest="gate_only", action="store_true",
                help="run only the gate's items (deselect the other collected tests)")
    g.addoption("--gate-allow-implausible", dest="gate_allow_implausible", action="store_true",
                help="gate an avatar whose splat statistics are far outside a trained LAM avatar's")
    g.addoption("--gate-sweep", dest="gate_sweep", action="store_true", default=None,
                help="also run the gate's [sweep] (largest safe strength per correction; slow) (ini: gate_sweep)")
    parser.addini("gate_sweep", "also run the gate's [sweep]", type="bool", default=False)


def _opt(config: pytest.Config, ini: str) -> Any:
    """Command line, else ini, else the table's default."""
    value = getattr(config.option, ini, None)
    return value if value is not None else (config.getini(ini) or None)


@dataclasses.dataclass(frozen=True)
class GateOptions:
    gate: str
    backend: str
    avatar: str | None
    take: str | None
    golden_root: Path
    golden_update: bool
    pyproject: Path
    pyproject_required: bool
    sweep: bool = False
    ply_layout: str = "auto"
    allow_implausible: bool = False

    @classmethod
    def from_config(cls, config: pytest.Config) -> "GateOptions":
        py = _opt(config, "gate_pyproject")
        if py is None:  # the user's pyproject: where pytest was invoked, else the rootdir's
            here = Path(config.invocation_params.dir) / "pyproject.toml"
            py = here if here.is_file() else Path(config.rootpath) / "pyproject.toml"
        avatar = _opt(config, "gate_avatar")
        return cls(_opt(config, "gate"), _opt(config, "gate_backend") or "auto", avatar or None,
                   _opt(config, "gate_take"), Path(_opt(config, "gate_golden_dir") or "golden"),
                   bool(config.option.gate_golden_update), Path(py), _opt(config, "gate_pyproject") is not None,
                   bool(config.option.gate_sweep or config.getini("gate_sweep")),
                   _opt(config, "gate_ply_layout") or "auto", bool(config.option.gate_allow_implausible))


class GateRun:
    """Per-process state: the options, the report folder and the lazy session."""

    def __init__(self, options: GateOptions, report_dir: Path | None) -> None:
        from avatarcheck.gate.spec import load_gate
        from avatarcheck.render.backend import resolve_backend

        self.options = options
        self.report_dir = report_dir
        self.spec = load_gate(options.gate, options.pyproject, pyproject_required=options.pyproject_required)
        resolve_backend(options.backend)  # an unknown or unavailable backend is a usage error now
        if options.sweep:
            from avatarcheck.gate.sweep_spec import require_sweep

            require_sweep(self.spec)  # --gate-sweep on a gate without [sweep]: a usage error now
        self._session = None

    @property
    def started(self) -> bool:
        return self._session is not None

    @property
    def session(self):
        if self._session is None:
            from avatarcheck.gate.session import GateSession

            o = self.options
            self._session = GateSession(self.spec, self.report_dir, avatar=o.avatar, take=o.take, backend=o.backend,
                                        golden_root=o.golden_root, golden_update=o.golden_update, sweep=o.sweep,
                                        ply_layout=o.ply_layout, allow_implausible=o.allow_implausible)
        return self._session

    def check_inputs(self) -> None:
        """Load the take and recognise the avatar now: a bad ``--gate-take`` or ``--gate-avatar`` is a usage
        error, not 50 failures and a crash."""
        from avatarcheck.cli.common import checked_ply_layout
        from avatarcheck.gate.inputs import load_take_source
        from avatarcheck.sources import detect_source

        checked_ply_layout(self.options.ply_layout)
        detect_source(self.options.avatar or self.spec.avatar)
        load_take_source(self.options.take or self.spec.take)


def _worker_id(config: pytest.Config) -> str | None:
    wi = getattr(config, "workerinput", None)
    return None if wi is None else wi.get("workerid", "gw")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "avatarcheck_gate: an item generated by avatarcheck's --gate")
    if not _opt(config, "gate"):
        return
    options = GateOptions.from_config(config)
    from avatarcheck.threads import apply_thread_policy

    apply_thread_policy()  # xdist workers split the cores (PYTEST_XDIST_WORKER_COUNT)
    wi = getattr(config, "workerinput", None)
    report_dir: Path | None = None
    if wi is not None and "avatarcheck_report_dir" in wi:
        report_dir = Path(wi["avatarcheck_report_dir"])
    root = Path(_opt(config, "gate_report_dir") or "reports").absolute()
    if report_dir is None and root.exists() and not root.is_dir():
        raise pytest.UsageError(f"--gate-report-dir {root}: expected a folder, got a file")
    try:
        run = GateRun(options, report_dir)
        if wi is None:
            run.check_inputs()
        if report_dir is None:  # after the usage checks; named by spec.name, never the --gate argument (N4)
            from avatarcheck.report.html import create_report_dir

            report_dir = run.report_dir = create_report_dir(root, run.spec.name)
    except (InputError, OSError) as err:
        raise pytest.UsageError(str(err)) from None
    config.stash[_KEY] = run
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistHooks(report_dir), "avatarcheck-xdist")


class _XdistHooks:
    def __init__(self, report_dir: Path) -> None:
        self.report_dir = report_dir

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node) -> None:
        node.workerinput["avatarcheck_report_dir"] = str(self.report_dir)


class GateFailure(Exception):
    pass


class GateItem(pytest.Item):
    def __init__(self, *, run_step, description: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.run_step = run_step
        self.description = description

    def runtest(self) -> None:
        outcome = self.run_step()
        if outcome.status == "skip":
            pytest.skip(outcome.message)
        if outcome.status == "fail":
            raise GateFailure(outcome.message)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, GateFailure):
            return str(excinfo.value)
        if isinstance(excinfo.value, (InputError, OSError)):
            return f"{self.name}: {excinfo.value}"
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, f"gate {self.name}: {self.description}"


class GateCollector(pytest.Collector):
    def collect(self):
        return []


def _items(session: pytest.Session, run: GateRun) -> list[GateItem]:
    """One item per step of the gate; the session behind them evaluates lazily, per process."""
    parent = GateCollector.from_parent(session, name=f"gate[{run.spec.name}]")
    out = []
    for step in run.session.steps():
        item = GateItem.from_parent(parent, name=step.item_id, run_step=step.run, description=step.description)
        item.add_marker(pytest.mark.avatarcheck_gate)
        item.add_marker(pytest.mark.xdist_group(name=step.group))
        out.append(item)
    return out


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    run = config.stash.get(_KEY, None)
    if run is None:
        return
    if config.option.gate_only and items:
        config.hook.pytest_deselected(items=list(items))
        items[:] = []
    items.extend(_items(session, run))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    run = config.stash.get(_KEY, None)
    if run is None:
        return
    from avatarcheck.gate.result import GateResult

    parts = run.report_dir / "parts"
    worker = _worker_id(config)
    try:
        partial = run.session.result() if run.started else None
    except (InputError, OSError) as err:  # inputs that failed to load: every item already failed with it
        config.stash[_REPORT] = (f"no report: {err}", False)
        return
    if worker is not None:  # an xdist worker: leave a part for the controller
        if partial is not None:
            parts.mkdir(parents=True, exist_ok=True)
            partial.save(parts / f"{worker}.json")
        return
    # The controller (or the only process): merge the parts and write the report.
    results = [partial] if partial is not None else []
    if parts.is_dir():
        results += [GateResult.load(p) for p in sorted(parts.glob("*.json"))]
    if not results:
        with contextlib.suppress(OSError):
            run.report_dir.rmdir()  # nothing ran (all deselected): no empty report folder
        return
    merged = results[0]
    for r in results[1:]:
        merged = merged.merge(r)
    from avatarcheck.report.html import write_report

    stopped = exitstatus == pytest.ExitCode.INTERRUPTED or session.shouldstop or session.shouldfail
    if run.options.golden_update and merged.golden_set and not stopped:
        from avatarcheck.gate.golden import GoldenSet, finish_update

        # Last, once every worker's goldens are written: an interrupted update keeps its set marked incomplete.
        finish_update(GoldenSet.from_dict(merged.golden_set))

    index = write_report(merged, run.report_dir)
    config.stash[_REPORT] = (index, merged.ok)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    report = config.stash.get(_REPORT, None)
    if report is not None:
        index, ok = report
        terminalreporter.write_sep("=", f"avatarcheck gate report: {'PASS' if ok else 'FAIL'}")
        terminalreporter.write_line(f"{index}")
        latest = Path(index).parent.parent / "latest"
        if latest.exists():
            terminalreporter.write_line(f"(also {latest}{os.sep}index.html)")


@pytest.fixture
def avatar_gate(request: pytest.FixtureRequest, tmp_path: Path):
    """Run a gate in-process from a test: ``avatar_gate(gate="three-moment", avatar=..., take=..., ...)``.

    Keyword arguments: gate, avatar (folder or .npz), take (.csv/.npz or synthetic:SEED), backend,
    golden_dir, golden_update, report_dir (default: a new folder in the test's tmp_path), pyproject, sweep
    (also run the gate's ``[sweep]``). Returns the
    ``GateResult`` (``.ok``, ``.checks``, ...) after writing its HTML report; ``.failures`` lists the
    messages of what failed.
    """
    config = request.config

    def run(gate: str = "three-moment", *, avatar: str | os.PathLike | None = None, take: str | None = None,
            backend: str | None = None, golden_dir: str | os.PathLike | None = None, golden_update: bool = False,
            report_dir: str | os.PathLike | None = None, pyproject: str | os.PathLike | None = None,
            sweep: bool = False, ply_layout: str = "auto", allow_implausible: bool = False):
        from avatarcheck.gate.session import GateSession
        from avatarcheck.gate.spec import load_gate
        from avatarcheck.report.html import create_report_dir, write_report

        spec = load_gate(gate, pyproject if pyproject is not None else Path(config.rootpath) / "pyproject.toml",
                         pyproject_required=pyproject is not None)
        # the default is one new folder per call: two gates in one test never share a report
        folder = Path(report_dir) if report_dir is not None else create_report_dir(tmp_path, spec.name)
        session = GateSession(spec, folder, avatar=os.fspath(avatar) if avatar else None, take=take,
                              backend=backend or _opt(config, "gate_backend") or "auto",
                              golden_root=Path(golden_dir or _opt(config, "gate_golden_dir") or "golden"),
                              golden_update=golden_update, sweep=sweep, ply_layout=ply_layout,
                              allow_implausible=allow_implausible)
        outcomes = [(s.item_id, s.run()) for s in session.steps()]
        result = session.result()
        if golden_update and result.golden_set:  # last: the set's manifest says the update finished
            from avatarcheck.gate.golden import GoldenSet, finish_update

            finish_update(GoldenSet.from_dict(result.golden_set))
        write_report(result, folder, link_latest=False)
        result.failures = [o.message for _, o in outcomes if o.status == "fail"]
        return result

    return run

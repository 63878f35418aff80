"""Rules of the package's shape, read from its source with ``ast`` (nothing is imported or run):
functions stay short enough to read whole, and no two modules import each other, however indirectly."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "avatarcheck"
MAX_FUNCTION_LINES = 80
# A numba kernel may run longer: numba cannot inline every call, and a split kernel is slower. It must
# say so in a comment right above its decorators (one word of it, "speed", is what is looked for).
KERNEL_DECORATORS = ("njit", "jit")


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def _is_kernel(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for d in fn.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name in KERNEL_DECORATORS:
            return True
    return False


def _length(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from ``def`` to the end of the body (decorators not counted)."""
    return fn.end_lineno - fn.lineno + 1


def test_no_function_is_longer_than_80_lines_outside_numba_kernels():
    long = []
    for module, path in _modules().items():
        for fn in _functions(ast.parse(path.read_text(encoding="utf-8"))):
            if _length(fn) > MAX_FUNCTION_LINES and not _is_kernel(fn):
                long.append(f"{module}.{fn.name} (line {fn.lineno}): {_length(fn)} lines")
    assert not long, "split these into named helpers:\n" + "\n".join(long)


def test_a_long_numba_kernel_says_why_it_is_kept_whole():
    silent = []
    for module, path in _modules().items():
        lines = path.read_text(encoding="utf-8").splitlines()
        for fn in _functions(ast.parse("\n".join(lines))):
            if _length(fn) > MAX_FUNCTION_LINES and _is_kernel(fn):
                first = min(d.lineno for d in fn.decorator_list)
                above = lines[first - 2].strip() if first >= 2 else ""
                if not (above.startswith("#") and "speed" in above):
                    silent.append(f"{module}.{fn.name} (line {fn.lineno})")
    assert not silent, "a comment above these kernels should say splitting them costs speed:\n" + "\n".join(silent)


def _imports(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules ``module`` imports anywhere in its file (in functions and under
    ``TYPE_CHECKING`` too: a deferred import still ties the two modules together)."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            for a in node.names:  # ``from pkg import mod`` names a module; ``from mod import name`` the module
                target = f"{base}.{a.name}"
                found.add(target if target in modules else base)
    return (found & modules.keys()) - {module}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    circles.append(sorted(component))
    return circles


def test_the_circle_finder_finds_a_circle():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _circles({"a": {"b"}, "b": set()}) == []


def test_no_modules_import_each_other():
    modules = _modules()
    graph = {m: _imports(m, p, modules) for m, p in modules.items()}
    assert "avatarcheck.gate.spec" in graph["avatarcheck.gate.session"]  # the graph is read at all
    circles = _circles(graph)
    assert not circles, "import circles (move what both need into a module of its own):\n" + "\n".join(
        " <-> ".join(c) for c in circles)

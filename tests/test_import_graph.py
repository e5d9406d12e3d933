"""The package contracts, checked two ways.

The target graph: ``services.api`` → jobs, items, routing; ``services.worker`` → jobs, items;
the API and the worker never import each other; ``services`` never imports ``stacks``; the
CDK app (``app.py``, ``stacks``) imports one light module of the services,
``services.jobs.spec``, whose import loads nothing beyond the standard library.

1. Statically, over every import statement of the files (in functions too, resolved through
   the packages whose ``__init__`` an import runs): a path that breaks a rule is named hop by
   hop. Imports under ``if TYPE_CHECKING:`` never run, so they count only for the API ↔
   worker rule, where even a type is coupling.
2. At run time, in a fresh interpreter: each side is imported (every module, and what it loads
   by name at start: the API's app, the worker's handlers), then ``sys.modules`` is read.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC = "services.jobs.spec"
CDK_APP = ("app", "stacks")


@dataclass
class Module:
    """One module of the repository: what it imports at run time, and what only for type checking."""

    name: str
    path: Path
    runtime: set[str] = field(default_factory=set)
    typing: set[str] = field(default_factory=set)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(node: ast.Import | ast.ImportFrom, module: Module) -> Iterator[str]:
    """The modules an import statement names (``from a import b`` names ``a`` and, if it is one, ``a.b``)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:
        package = module.name.split(".") if module.path.name == "__init__.py" else module.name.split(".")[:-1]
        anchor = package[: len(package) - node.level + 1]
        base = ".".join([*anchor, *([base] if base else [])])
    yield base
    yield from (f"{base}.{alias.name}" for alias in node.names)


def _collect(module: Module, nodes: list[ast.stmt], *, typing_only: bool) -> None:
    for node in nodes:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            _collect(module, node.body, typing_only=True)
            _collect(module, node.orelse, typing_only=typing_only)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            (module.typing if typing_only else module.runtime).update(_imported(node, module))
        else:
            _collect(module, _nested(node), typing_only=typing_only)


def _nested(node: ast.stmt) -> list[ast.stmt]:
    """The statements inside a compound statement: bodies of functions, classes, branches, handlers, cases."""
    nested: list[ast.stmt] = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.stmt):
            nested.append(child)
        elif isinstance(child, ast.ExceptHandler | ast.match_case):
            nested.extend(child.body)
    return nested


@cache
def modules() -> dict[str, Module]:
    """Every module of ``services``, ``stacks`` and ``app.py``, by name."""
    paths = [ROOT / "app.py", *(ROOT / "services").rglob("*.py"), *(ROOT / "stacks").rglob("*.py")]
    found = {}
    for path in paths:
        module = Module(_module_name(path), path)
        _collect(module, ast.parse(path.read_text(), str(path)).body, typing_only=False)
        found[module.name] = module
    return found


def _executed(name: str) -> list[str]:
    """The repository modules importing ``name`` runs: its packages' ``__init__`` and the module itself."""
    known = modules()
    parts = name.split(".")
    prefixes = [".".join(parts[:end]) for end in range(1, len(parts) + 1)]
    return [prefix for prefix in prefixes if prefix in known]


def _edges(name: str, *, with_typing: bool) -> set[str]:
    module = modules()[name]
    targets = module.runtime | (module.typing if with_typing else set())
    return {executed for target in targets for executed in _executed(target)} - {name}


def _reached(source: str, *, with_typing: bool) -> dict[str, list[str]]:
    """Every repository module importing ``source`` runs (transitively), with the path to it."""
    paths = {source: [source]}
    queue = deque([source])
    while queue:
        current = queue.popleft()
        for target in sorted(_edges(current, with_typing=with_typing)):
            if target not in paths:
                paths[target] = [*paths[current], target]
                queue.append(target)
    return paths


def _paths_into(sources: list[str], forbidden: tuple[str, ...], *, with_typing: bool) -> list[str]:
    """Each path from a source module to a module under a ``forbidden`` package, hop by hop."""
    return sorted(
        " -> ".join(path)
        for source in sources
        for name, path in _reached(source, with_typing=with_typing).items()
        if name in forbidden or name.startswith(tuple(f"{package}." for package in forbidden))
    )


def _under(*packages: str) -> list[str]:
    return sorted(name for name in modules() if name in packages or name.startswith(tuple(f"{p}." for p in packages)))


@pytest.mark.parametrize(
    ("sources", "forbidden"),
    [
        pytest.param(("services.api",), ("services.worker",), id="api-never-imports-worker"),
        pytest.param(("services.worker",), ("services.api",), id="worker-never-imports-api"),
        pytest.param(
            ("services.jobs", "services.items", "services.routing"),
            ("services.api", "services.worker"),
            id="neutral-packages-import-neither-service",
        ),
        pytest.param(("services",), CDK_APP, id="services-never-import-the-cdk-app"),
    ],
)
def test_no_import_path_breaks_a_package_contract(sources: tuple[str, ...], forbidden: tuple[str, ...]) -> None:
    violations = _paths_into(_under(*sources), forbidden, with_typing=True)
    assert not violations, "forbidden imports:\n" + "\n".join(violations)


def test_the_cdk_app_imports_only_the_spec_module_of_the_services() -> None:
    direct = {
        f"{name} imports {executed[-1]}"
        for name in _under(*CDK_APP)
        for target in modules()[name].runtime | modules()[name].typing
        if (executed := _executed(target))
        and executed[-1] not in ("services", "services.jobs", SPEC)
        and executed[0] == "services"
    }
    assert not direct, sorted(direct)
    reached = _paths_into(_under(*CDK_APP), ("services",), with_typing=False)
    beyond = [path for path in reached if path.rpartition(" -> ")[2] not in ("services", "services.jobs", SPEC)]
    assert not beyond, "the CDK app reaches services beyond the spec module:\n" + "\n".join(beyond)
    spec = modules()[SPEC]
    assert all(name.split(".")[0] in sys.stdlib_module_names for name in spec.runtime - {"__future__"}), spec.runtime


def test_the_static_graph_sees_imports_in_functions_and_relative_ones(tmp_path: Path) -> None:
    """The checker itself: an import hidden in a function is an edge; one under TYPE_CHECKING is typing only."""
    source = (
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from services.worker.worker import Worker\n"
        "def f():\n    try:\n        from . import settings\n    except ImportError:\n        import stacks.nag\n"
    )
    module = Module("services.api.probe", ROOT / "services" / "api" / "probe.py")
    _collect(module, ast.parse(source).body, typing_only=False)
    assert "services.worker.worker" in module.typing
    assert "services.worker.worker" not in module.runtime
    assert {"services.api.settings", "stacks.nag"} <= module.runtime


def _loaded_after(code: str) -> dict[str, list[str]]:
    """Run ``code`` in a fresh interpreter at the repository root; it prints a JSON object."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    loaded: dict[str, list[str]] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


_IMPORT_ALL = (
    "import importlib, json, pkgutil, sys\n"
    "def import_all(package):\n"
    "    root = importlib.import_module(package)\n"
    "    for info in pkgutil.walk_packages(root.__path__, package + '.'):\n"
    "        importlib.import_module(info.name)\n"
    "def loaded(*packages):\n"
    "    return sorted(m for m in sys.modules if m in packages or m.startswith(tuple(p + '.' for p in packages)))\n"
)


@pytest.mark.slow
def test_at_run_time_the_api_loads_no_worker_module_and_the_worker_no_api_module() -> None:
    api = _loaded_after(
        _IMPORT_ALL + "import_all('services.api')\n"
        "from services.api.app import create_app\n"
        "from services.api.settings import load_settings\n"
        "create_app(load_settings())\n"
        "print(json.dumps({'worker': loaded('services.worker'), 'stacks': loaded('stacks', 'app')}))"
    )
    assert api == {"worker": [], "stacks": []}
    worker = _loaded_after(
        _IMPORT_ALL + "import_all('services.worker')\n"
        "from services.jobs.types import load_job_types\n"
        "from services.worker.registry import check_every_type_bound, load_handlers\n"
        "load_job_types(); load_handlers(); check_every_type_bound()\n"
        "print(json.dumps({'api': loaded('services.api'), 'stacks': loaded('stacks', 'app')}))"
    )
    assert worker == {"api": [], "stacks": []}


@pytest.mark.slow
def test_at_run_time_the_cdk_app_loads_only_the_spec_module_of_the_services() -> None:
    loaded = _loaded_after(
        "import json, sys\nimport app\n"
        "print(json.dumps({'services': sorted(m for m in sys.modules if m.split('.')[0] == 'services')}))"
    )
    assert loaded == {"services": ["services", "services.jobs", SPEC]}


def test_importing_the_spec_module_loads_only_the_standard_library() -> None:
    loaded = _loaded_after(
        "import json, sys\nbefore = set(sys.modules)\nimport services.jobs.spec\n"
        "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "print(json.dumps({'beyond the standard library': sorted(new - set(sys.stdlib_module_names)),"
        " 'heavy': sorted(m for m in ('sqlalchemy', 'boto3', 'botocore', 'pydantic') if m in sys.modules)}))"
    )
    assert loaded == {"beyond the standard library": ["services"], "heavy": []}

"""The house reads one way: web → domain → ground, no cycles, no view importing another view.

Reads every module of gis_app/ with the standard library's `ast` (nothing is imported), so a new
module that breaks the floors fails here, whatever it does at run time. The floors are described
in docs/architecture.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gis_app"
# The ground floor: settings, engines, errors, geometry, the layer registry, the tables.
GROUND = {"config", "db", "errors", "geometry", "layers", "localdb", "migrate", "models"}
# The top floor: Flask (views, pages, request handling) and the command line.
TOP = {"web", "cli"}
# Libraries of the top floor only: the domain takes plain arguments, never a request.
# (werkzeug.security, the password hash, is no request handling.)
WEB_LIBRARIES = {"flask", "werkzeug", "click", "folium", "markupsafe"}
NOT_WEB = {"werkzeug.security"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str:
    """The module an import of `name` loads: the longest known module prefix."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _imports(module: str) -> list[tuple[str, int, str]]:
    """(imported gis_app module, line, imported name or '') of every import in `module`,
    function-local ones included (a lazy import that hides a cycle is still a cycle)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(_resolve(a.name), node.lineno, "") for a in node.names if _is_ours(a.name)]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package of this module, `level` up
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            if not _is_ours(base):
                continue
            for alias in node.names:
                target = f"{base}.{alias.name}"
                # `from pkg import submodule` loads the submodule; other names come from pkg.
                resolved = target if target in MODULES else _resolve(base)
                found.append((resolved, node.lineno, alias.name))
    return found


def _is_ours(name: str) -> bool:
    return name == "gis_app" or name.startswith("gis_app.")


def _third_party(module: str) -> set[str]:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name not in NOT_WEB}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            if node.module not in NOT_WEB:
                names.add(node.module)
    return {name.split(".")[0] for name in names}


def floor(module: str) -> int:
    """0 ground, 1 domain, 2 web and CLI, 3 the package root (create_app)."""
    if module == "gis_app":
        return 3
    top = module.split(".")[1]
    if top in TOP:
        return 2
    return 0 if top in GROUND else 1


def _is_view(module: str) -> bool:
    """A module whose functions are routes (decorated with a blueprint's get/post/route...)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    verbs = {"get", "post", "put", "patch", "delete", "route"}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                call = deco.func if isinstance(deco, ast.Call) else deco
                if isinstance(call, ast.Attribute) and call.attr in verbs:
                    return True
    return False


def test_the_modules_are_found():
    assert len(MODULES) > 50
    assert {"gis_app.web.api.layers", "gis_app.features.pages", "gis_app.models.base"} <= set(
        MODULES
    )


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_or_across_never_up(module):
    mine = floor(module)
    upward = [
        f"line {line}: {module} (floor {mine}) imports {target} (floor {floor(target)})"
        for target, line, name in _imports(module)
        if floor(target) > mine
        and target != module
        # The command line builds the app: the factory is the one thing it takes from the root.
        and not (module.startswith("gis_app.cli") and target == "gis_app" and name == "create_app")
    ]
    assert not upward, "\n".join(upward)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_nothing_but_the_app_factory_comes_from_the_package_root(module):
    wrong = [
        f"line {line}: from gis_app import {name}"
        for target, line, name in _imports(module)
        if target == "gis_app" and name not in ("create_app", "__version__")
    ]
    assert not wrong, f"{module}: " + "; ".join(wrong)


# The ground's two accessors of the running app: the request's Session, the layer registry.
APP_ACCESSORS = {"gis_app.db", "gis_app.layers"}


@pytest.mark.parametrize(
    "module", sorted(m for m in MODULES if floor(m) < 2 and m not in APP_ACCESSORS)
)
def test_domain_and_ground_know_no_request(module):
    assert not (_third_party(module) & WEB_LIBRARIES), f"{module} imports a web library"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _is_view(m)))
def test_no_view_imports_another_view(module):
    views = {m for m in MODULES if _is_view(m)}
    wrong = [t for t, _, _ in _imports(module) if t in views and t != module]
    assert not wrong, f"{module} imports the view module(s) {wrong}"


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph (as a path back to its start), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_there_is_no_import_cycle():
    graph = {m: {t for t, _, _ in _imports(m) if t != m} for m in MODULES}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_the_checks_can_fail():
    """Each check sees what it is there to catch."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert (
        floor("gis_app.models.base") < floor("gis_app.incidents.create") < floor("gis_app.web.auth")
    )
    assert floor("gis_app") > floor("gis_app.cli")
    assert _is_view("gis_app.web.api.layers") and not _is_view("gis_app.web.params")
    edges = {(t, n) for t, _, n in _imports("gis_app.web.api.features")}
    assert ("gis_app.features.pages", "pages") in edges and ("gis_app.web.api", "api") in edges
    assert ("gis_app.config", "config") in {(t, n) for t, _, n in _imports("gis_app.cli")}

"""The shape of the code: imports flow one way, between apps and between modules of an app.

The graph is read from the source with ``ast`` (nothing is imported), over the product code of
``school_live/``: migrations and the developer tools (the WeCom sandbox, the demo, the
benchmarks) are left out, whether they still sit in a product app or have moved to their own.

Two graphs are checked:
- module level: the imports that run when a module is loaded. No cycle at all.
- every import, also those inside a function. No cycle either, except through the one allowed
  door: a service that queues a Celery task imports the task inside the function that sends it,
  since the tasks module imports the services (ARCHITECTURE: thin tasks that call services).
"""

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "school_live"

# Developer tools: product code never imports them. Names only, whether or not they exist yet.
DEV_PACKAGES = ("school_live.devtools", "school_live.wecom_sandbox", "school_live.wecom.sandbox")
DEV_COMMANDS = {"demo", "bench_pages", "bench_sync", "wecom_sandbox"}

# What an app must never import, beyond "no cycle": the layers in ARCHITECTURE.md.
FORBIDDEN_APP_IMPORTS = {
    ("school", "sync"),
    ("dashboard", "reports"),
    ("reports", "dashboard"),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_dev_tool(path: Path) -> bool:
    name = _module_name(path)
    if any(name == dev or name.startswith(dev + ".") for dev in DEV_PACKAGES):
        return True
    parts = path.relative_to(ROOT).parts
    return "commands" in parts and path.stem in DEV_COMMANDS


def product_modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for path in sorted((ROOT / PACKAGE).rglob("*.py"))
        if "migrations" not in path.parts and not _is_dev_tool(path)
    }


class _Imports(ast.NodeVisitor):
    """(imported module name, whether the import runs only inside a function) of one file."""

    def __init__(self, module: str, is_package: bool):
        self.package = module if is_package else module.rpartition(".")[0]
        self.depth = 0
        self.found: list[tuple[str, bool]] = []

    def _function(self, node):
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_If(self, node):
        # ``if TYPE_CHECKING:`` imports are for the type checker; they never run.
        test = node.test
        name = getattr(test, "id", None) or getattr(test, "attr", None)
        if name == "TYPE_CHECKING":
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node):
        for alias in node.names:
            self.found.append((alias.name, self.depth > 0))

    def visit_ImportFrom(self, node):
        if node.level:
            base = self.package.split(".")
            base = base[: len(base) - node.level + 1]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        for alias in node.names:
            # ``from package import module`` imports that module, ``from module import name``
            # the module: whichever of the two is a product module counts.
            self.found.append((f"{module}.{alias.name}", self.depth > 0))
            self.found.append((module, self.depth > 0))


def import_graph() -> dict[str, set[tuple[str, bool]]]:
    """Product module → {(product module it imports, lazily)}."""
    modules = product_modules()
    known = set(modules)
    graph: dict[str, set[tuple[str, bool]]] = defaultdict(set)
    for name, path in modules.items():
        visitor = _Imports(name, path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        for target, lazy in visitor.found:
            if target in known and target != name:
                graph[name].add((target, lazy))
        graph.setdefault(name, set())
    return graph


def app_of(module: str) -> str:
    """The app a module belongs to; settings, urls and the Celery app are the project's.
    ``db_internals`` sits below every app (they all may use it), so it is a layer of its own,
    not part of the project that sits above them all."""
    parts = module.split(".")
    if module == f"{PACKAGE}.db_internals":
        return "(db_internals)"
    if len(parts) > 1 and (ROOT / PACKAGE / parts[1]).is_dir():
        return parts[1]
    return "(project)"


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _task_door(source: str, target: str, lazy: bool) -> bool:
    """An import, inside a function, of the Celery tasks of the importer's own app."""
    return lazy and target == f"{PACKAGE}.{app_of(source)}.tasks"


def _edges(*, lazy: bool, allow_task_doors: bool = False) -> dict[str, set[str]]:
    graph = {}
    for name, edges in import_graph().items():
        graph[name] = {
            target
            for target, is_lazy in edges
            if (lazy or not is_lazy)
            and not (allow_task_doors and _task_door(name, target, is_lazy))
        }
    return graph


def app_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for name, targets in _edges(lazy=True).items():
        graph[app_of(name)]
        for target in targets:
            if app_of(target) != app_of(name):
                graph[app_of(name)].add(app_of(target))
    return dict(graph)


def test_the_graph_sees_the_product_apps():
    apps = set(app_graph())
    assert {"school", "wecom", "sync", "attendance", "dashboard", "reports"} <= apps
    assert ("school_live.sync.sweep", False) in import_graph()["school_live.sync.tasks"]


def test_no_import_cycle_between_apps():
    assert cycles(app_graph()) == []


def test_apps_keep_to_their_layer():
    graph = app_graph()
    assert [(a, b) for a, b in sorted(FORBIDDEN_APP_IMPORTS) if b in graph.get(a, ())] == []


def test_no_import_cycle_between_modules_at_load_time():
    assert cycles(_edges(lazy=False)) == []


def test_no_import_cycle_but_through_a_function_that_queues_a_task():
    assert cycles(_edges(lazy=True, allow_task_doors=True)) == []


def test_product_code_never_imports_the_developer_tools():
    offenders = []
    for name, path in product_modules().items():
        visitor = _Imports(name, path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
        offenders += [
            (name, target)
            for target, _lazy in visitor.found
            if any(target == dev or target.startswith(dev + ".") for dev in DEV_PACKAGES)
        ]
    assert offenders == []


# WeCom's errcodes are known in one place (ARCHITECTURE: wecom/ is the only app that knows WeCom);
# elsewhere code names them through wecom/errors.py.
WECOM_PACKAGE = f"{PACKAGE}.wecom"


def wecom_errcodes() -> set[int]:
    """Every WeCom errcode wecom/errors.py knows (its positive numbers; -1 is checked apart)."""
    tree = ast.parse((ROOT / PACKAGE / "wecom" / "errors.py").read_text(encoding="utf-8"))
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and type(node.value) is int and node.value >= 40000
    }


def _numbers(node: ast.AST) -> list[int]:
    return [
        child.value
        for child in ast.walk(node)
        if isinstance(child, ast.Constant) and type(child.value) is int
    ]


def errcode_offenders(tree: ast.AST, known: set[int]) -> list[tuple[int, str]]:
    """(line, what) for each WeCom errcode written as a number: a known errcode anywhere, or any
    number compared with something named ``errcode`` (``error.errcode == -1``)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and type(node.value) is int and node.value in known:
            found.append((node.lineno, str(node.value)))
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            named = [side for side in sides if "errcode" in ast.unparse(side)]
            # ``errcode > 0`` (WeCom's or our sentinel) and ``errcode == 0`` (success) name none.
            numbers = [n for side in sides if side not in named for n in _numbers(side) if n]
            if named and numbers:
                found.append((node.lineno, ast.unparse(node)))
    return sorted(set(found))


def test_no_wecom_errcode_outside_wecom():
    known = wecom_errcodes()
    assert {48002, 81013, 92008, 45009, 40001} <= known
    offenders = []
    for name, path in product_modules().items():
        if name == WECOM_PACKAGE or name.startswith(WECOM_PACKAGE + "."):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offenders += [(name, line, what) for line, what in errcode_offenders(tree, known)]
    assert offenders == []


def test_the_errcode_guard_sees_numbers_and_comparisons():
    code = "A = 92008\nif error.errcode in (40003, 60111): pass\nif e.errcode == -1: pass\nx[-1]"
    found = errcode_offenders(ast.parse(code), wecom_errcodes())
    assert [line for line, _what in found] == [1, 2, 2, 2, 3]


def _module_level(tree: ast.Module):
    """The nodes that run when the module is imported: not inside a function or lambda."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            todo += node.decorator_list if not isinstance(node, ast.Lambda) else []
            continue
        yield node
        todo += list(ast.iter_child_nodes(node))


# Django and Celery declarations that must read a setting when the module loads.
DECLARED_SETTINGS = {"settings.AUTH_USER_MODEL", "settings.LANGUAGES", "settings.LANGUAGE_CODE"}
DECLARED_SETTINGS_IN = {
    # the task options of @shared_task(**SYNC_TASK): a worker reads them when it imports tasks
    (f"{PACKAGE}.sync.tasks", "getattr(settings, 'CELERY_TASK_SOFT_TIME_LIMIT', 600)"),
    (f"{PACKAGE}.sync.tasks", "getattr(settings, 'CELERY_TASK_TIME_LIMIT', 660)"),
}


def test_no_setting_is_read_at_import():
    """A setting read when the module loads ignores ``override_settings`` and a changed
    environment: product code reads settings when it runs (settings.py itself aside)."""
    offenders = []
    for name, path in product_modules().items():
        if name == f"{PACKAGE}.settings" or name.startswith(f"{PACKAGE}.settings."):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in _module_level(tree):
            if (
                isinstance(node, ast.Attribute)
                and ast.unparse(node.value) == "settings"
                or (
                    isinstance(node, ast.Call)
                    and ast.unparse(node.func) == "getattr"
                    and node.args
                    and ast.unparse(node.args[0]) == "settings"
                )
            ):
                offenders.append((name, node.lineno, ast.unparse(node)))
    offenders = [
        (name, line, what)
        for name, line, what in offenders
        if what not in DECLARED_SETTINGS and (name, what) not in DECLARED_SETTINGS_IN
    ]
    assert offenders == []


if __name__ == "__main__":
    # python tests/test_layout.py: the graph as the tests see it.
    print("app graph:")
    for app, targets in sorted(app_graph().items()):
        print(f"  {app} -> {', '.join(sorted(targets)) or '-'}")
    print("app cycles:", cycles(app_graph()) or "none")
    print("module cycles at load time:", cycles(_edges(lazy=False)) or "none")
    print("module cycles, every import:", cycles(_edges(lazy=True)) or "none")
    print(
        "module cycles, but for lazy imports of a tasks module:",
        cycles(_edges(lazy=True, allow_task_doors=True)) or "none",
    )

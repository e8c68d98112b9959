"""The package's layering (docs/architecture.md, "The code's layers"): every module sits on one floor and
imports only from its own floor and those below (training, evaluation and inference never from each other);
no module imports the command line; no import cycle, counting imports inside functions too; and no function
of the package is over 60 lines."""
import ast
import re
from pathlib import Path

import motiongan

ROOT = Path(motiongan.__file__).parent


def _imports() -> dict[str, set[str]]:
    """module -> the motiongan modules it imports anywhere in its source."""
    graph = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")
                mod = ".".join(base[: len(base) - node.level + 1] + ([node.module] if node.module else [])) \
                    if node.level else node.module or ""
                targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            deps |= {t for t in targets if t.startswith("motiongan")}
        graph[name] = deps
    return {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}


# the floors of docs/architecture.md, bottom up: a module's floor is that of its longest listed prefix
FLOORS = [
    ("foundation", ["errors", "options", "media", "assets"]),
    ("landmarks, faces", ["landmarks", "draw", "crop", "filtering", "convention", "face", "speech.audio",
                          "speech.canonical"]),
    ("data", ["data", "speech.data"]),
    ("motion, networks", ["motion", "mesh_motion", "mouths", "networks"]),
    ("model", ["config", "checkpoint", "inference.model", "inference.streaming", "speech.model", "models"]),
    ("training", ["training", "speech.train", "speech.evaluate"]),
    ("evaluation", ["evaluation"]),
    ("inference", ["inference", "speech", "speech.speak", "speech.dub"]),
    ("CLI / web", ["cli", "web", "speech.cli"]),
]
SIBLINGS = {"training", "evaluation", "inference"}  # each builds on the model floor, never on another


def _floor(module: str) -> int | None:
    rel = module.removeprefix("motiongan").removeprefix(".")
    found = [(len(p), i) for i, (_, prefixes) in enumerate(FLOORS) for p in prefixes
             if rel == p or rel.startswith(p + ".")]
    return max(found)[1] if found else None


def test_every_module_has_a_floor_and_the_docs_draw_the_floors_in_this_order():
    assert [m for m in _imports() if m != "motiongan" and _floor(m) is None] == []
    diagram = (ROOT.parent / "docs" / "architecture.md").read_text().split("## The code's layers")[1]
    drawn = [re.split(r"\s{2,}", line.strip())[0] for line in diagram.split("```")[1].splitlines()
             if line.strip() and not line.strip().startswith("│")]
    assert drawn == [name for name, _ in reversed(FLOORS)]


def test_no_module_imports_from_a_floor_above_its_own_or_from_a_sibling_floor():
    upward = []
    for m, deps in _imports().items():
        for d in deps:
            if m == "motiongan" or d == "motiongan":
                continue  # the package re-exports the Python API
            fm, fd = _floor(m), _floor(d)
            if fd > fm or (fd != fm and {FLOORS[fm][0], FLOORS[fd][0]} <= SIBLINGS):
                upward.append(f"{m} ({FLOORS[fm][0]}) imports {d} ({FLOORS[fd][0]})")
    assert upward == []


def test_no_module_imports_the_command_line():
    offenders = [m for m, deps in _imports().items() if "motiongan.cli" in deps]
    assert offenders == []


def test_the_package_has_no_import_cycle():
    graph = _imports()
    # a package's __init__ re-exporting its modules is not a cycle of the modules themselves
    edges = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}
    seen, stack, cycles = set(), [], []

    def visit(m):
        if m in stack:
            cycles.append(stack[stack.index(m):] + [m])
            return
        if m in seen:
            return
        seen.add(m)
        stack.append(m)
        for d in sorted(edges[m]):
            visit(d)
        stack.pop()

    for m in sorted(edges):
        visit(m)
    assert cycles == []


def test_no_function_is_over_60_lines():
    long = [f"{path.relative_to(ROOT.parent)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for path in ROOT.rglob("*.py") for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60]
    assert long == []

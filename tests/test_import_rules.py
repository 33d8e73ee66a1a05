"""The import rules of ARCHITECTURE.md, checked on the code's own imports, and the dependency graph that
ARCHITECTURE.md draws, recomputed: the document cannot drift from the code.

`python tests/test_import_rules.py` prints the graph in the form ARCHITECTURE.md holds.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "arc_efe"
GRAPH_START, GRAPH_END = "<!-- import-graph -->", "<!-- /import-graph -->"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Absolute names of every module `path` imports (relative imports resolved), at any depth."""
    tree = ast.parse(path.read_text())
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def layer(module: str) -> str:
    """The top-level part of arc_efe a module belongs to: `arc_efe.solving.ttt` -> `solving`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "arc_efe"


def all_modules() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def layer_graph() -> dict[str, set[str]]:
    """Which parts of arc_efe import which (a part importing itself is left out)."""
    graph: dict[str, set[str]] = {}
    for module, names in all_modules().items():
        ours = {layer(n) for n in names if n.startswith("arc_efe.")} - {layer(module)}
        graph.setdefault(layer(module), set()).update(ours)
    return graph


def render_graph() -> str:
    graph = layer_graph()
    width = max(map(len, graph))
    lines = [f"{name:<{width}} -> {', '.join(sorted(graph[name])) or '(nothing of ours)'}" for name in sorted(graph)]
    return "\n".join(["```", *lines, "```"])


def importers(prefix: str) -> dict[str, set[str]]:
    """Modules of ours that import `prefix` (a module or package, ours or third-party), with what they import."""
    found = {}
    for module, names in all_modules().items():
        hits = {n for n in names if n == prefix or n.startswith(prefix + ".")}
        if hits:
            found[module] = hits
    return found


def layers_importing(prefix: str) -> set[str]:
    return {layer(m) for m in importers(prefix)}


def test_data_imports_nothing_of_ours_outside_data():
    bad = {m: n for m, n in all_modules().items() if layer(m) == "data"
           and {layer(x) for x in n if x.startswith("arc_efe.")} - {"data"}}
    assert not bad, bad


def test_agent_never_imports_the_encoder_and_objective_only_the_agent_and_data():
    assert "agent" not in layers_importing("arc_efe.encoder")
    graph = layer_graph()
    assert graph["agent"] <= {"data"}, graph["agent"]
    assert graph["objective"] <= {"agent", "data"}, graph["objective"]


def test_training_and_solving_never_import_each_other():
    assert "training" not in layers_importing("arc_efe.solving"), importers("arc_efe.solving")
    assert "solving" not in layers_importing("arc_efe.training"), importers("arc_efe.training")


def test_only_training_imports_accelerate_and_only_cli_reads_argv_or_yaml():
    assert layers_importing("accelerate") <= {"training", "diagnose"}, importers("accelerate")
    assert layers_importing("argparse") <= {"cli"}, importers("argparse")
    assert layers_importing("yaml") <= {"cli", "config"}, importers("yaml")


def test_search_never_imports_torch():
    assert not [m for m in importers("torch") if layer(m) == "search"]


def test_architecture_md_draws_the_graph_of_the_code():
    text = (ROOT / "ARCHITECTURE.md").read_text()
    match = re.search(re.escape(GRAPH_START) + r"\n(.*?)\n" + re.escape(GRAPH_END), text, re.S)
    assert match, f"ARCHITECTURE.md has no {GRAPH_START} block"
    stale = "ARCHITECTURE.md's graph is stale; paste the output of `python tests/test_import_rules.py`"
    assert match.group(1) == render_graph(), stale


if __name__ == "__main__":
    print(render_graph())

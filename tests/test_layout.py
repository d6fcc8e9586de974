"""The layout's rules, checked by reading the source (ast), not by running it:

* imports run one way, core <- evaluation <- papers <- tools: core imports no other first-party package,
  evaluation only core, a paper package only core, evaluation and itself;
* no file under a package folder reaches outside it (and no module of the importable package outside
  ``<package>/<package>/``, whose neighbours train.py / test.py are not installed with it): no path that climbs
  above the folder
  (``Path(__file__).parents[k]`` / ``os.path.dirname`` chains), no ``tools/`` or ``../`` path, no ``sys.path``
  edits;
* every paper package has the skeleton: train.py and test.py with ``main(argv=None)``, and
  ``<paper>/{options,model,data,engine}.py``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Iterator, List, Set, Tuple

import pytest

REPO = Path(__file__).resolve().parents[1]
PAPERS = ("amtnet", "kinetics2stream", "stage", "acam", "stabn")
PACKAGES = ("core", "evaluation", *PAPERS)
FIRST_PARTY = set(PACKAGES) | {"recipes", "tools", "tests", "fixtures"}
ALLOWED = {"core": {"core"}, "evaluation": {"core", "evaluation"}}
ALLOWED.update({p: {"core", "evaluation", p} for p in PAPERS})
SKELETON = ("options.py", "model.py", "data.py", "engine.py")


def package_files(package: str) -> Iterator[Path]:
    for path in sorted((REPO / package).rglob("*.py")):
        if not any(part.startswith(".") or part in ("build", "__pycache__") for part in path.parts):
            yield path


def imported_packages(tree: ast.AST) -> Set[Tuple[str, int]]:
    """Top-level names of absolute imports, with their line numbers."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {(a.name.split(".")[0], node.lineno) for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add((node.module.split(".")[0], node.lineno))
    return found


def _is_file_expr(node: ast.AST) -> bool:
    """``__file__``, ``Path(__file__)``, ``Path(__file__).resolve()`` / ``.absolute()``, ``os.path.abspath(__file__)``."""
    if isinstance(node, ast.Name):
        return node.id == "__file__"
    if isinstance(node, ast.Call):
        f = node.func
        if isinstance(f, ast.Attribute) and f.attr in ("resolve", "absolute") and not node.args:
            return _is_file_expr(f.value)
        if node.args and (isinstance(f, ast.Name) and f.id == "Path"
                          or isinstance(f, ast.Attribute) and f.attr in ("abspath", "realpath", "Path")):
            return _is_file_expr(node.args[0])
    return False


def climbs(tree: ast.AST) -> List[Tuple[int, int]]:
    """(line, levels above the file's folder) of every ``Path(__file__).parents[k]`` (k levels above),
    ``.parent`` chain and ``os.path.dirname`` chain on ``__file__``."""
    def is_parent(n):
        return isinstance(n, ast.Attribute) and n.attr == "parent"

    def is_dirname(n):
        return isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "dirname" and n.args

    inner_links = set()  # the inner links of a chain are not chains of their own
    for node in ast.walk(tree):
        if is_parent(node) and is_parent(node.value):
            inner_links.add(id(node.value))
        if is_dirname(node) and is_dirname(node.args[0]):
            inner_links.add(id(node.args[0]))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "parents" \
                and _is_file_expr(node.value.value) and isinstance(node.slice, ast.Constant):
            out.append((node.lineno, int(node.slice.value)))
        if id(node) in inner_links:
            continue
        for step, follow in ((is_parent, lambda n: n.value), (is_dirname, lambda n: n.args[0])):
            depth, inner = 0, node
            while step(inner):
                depth, inner = depth + 1, follow(inner)
            if depth and _is_file_expr(inner):
                out.append((node.lineno, depth - 1))
    return out


def outside_paths(tree: ast.AST) -> List[Tuple[int, str]]:
    """String constants naming a path outside the package: ``tools/...``, ``../...``."""
    pattern = re.compile(r"(^|[/\\])(tools|\.\.)[/\\]")
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and pattern.search(n.value)
            and "\n" not in n.value]


def sys_path_edits(tree: ast.AST) -> List[int]:
    return [n.lineno for n in ast.walk(tree)
            if isinstance(n, ast.Attribute) and n.attr == "path" and isinstance(n.value, ast.Name)
            and n.value.id == "sys"]


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_run_one_way(package):
    bad = []
    for path in package_files(package):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for name, line in imported_packages(tree):
            if name in FIRST_PARTY and name not in ALLOWED[package]:
                bad.append(f"{path.relative_to(REPO)}:{line} imports {name}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_file_reaches_outside_its_package(package):
    bad = []
    for path in package_files(package):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        # the importable package (<package>/<package>/) must not reach its folder's scripts either: they are not
        # installed with it
        inner = REPO / package / package
        root = inner if inner in path.parents else REPO / package
        depth = len(path.relative_to(root).parts) - 1  # folders between the root and the file
        bad += [f"{path.relative_to(REPO)}:{line} climbs {up} folders above its own, out of {root.relative_to(REPO)}/"
                for line, up in climbs(tree) if up > depth]
        bad += [f"{path.relative_to(REPO)}:{line} names {value!r}" for line, value in outside_paths(tree)]
        bad += [f"{path.relative_to(REPO)}:{line} edits sys.path" for line in sys_path_edits(tree)]
    assert not bad, "\n".join(bad)


def test_the_scanner_catches_what_it_should():
    """The checks above on small sources with a known answer (a scan that finds nothing proves nothing)."""
    src = ("import stage.model\nfrom core import boxes\nfrom . import x\n"
           "REPO = Path(__file__).resolve().parents[2]\nHERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))\n"
           "UP = Path(__file__).parent.parent\nS = 'tools/synthesize.py'\nsys.path.insert(0, 'x')\n")
    tree = ast.parse(src)
    assert {n for n, _ in imported_packages(tree)} == {"stage", "core"}
    assert sorted(climbs(tree)) == [(4, 2), (5, 1), (6, 1)]
    assert outside_paths(tree) == [(7, "tools/synthesize.py")]
    assert sys_path_edits(tree) == [8]


@pytest.mark.parametrize("paper", [p for p in PAPERS if (REPO / p / "train.py").exists()])
def test_paper_skeleton(paper):
    for script in ("train.py", "test.py"):
        tree = ast.parse((REPO / paper / script).read_text(encoding="utf-8"))
        mains = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main"]
        assert mains, f"{paper}/{script} has no main()"
        args = mains[0].args
        assert [a.arg for a in args.args] == ["argv"] and len(args.defaults) == 1, f"{paper}/{script}: main(argv=None)"
    missing = [m for m in SKELETON if not (REPO / paper / paper / m).is_file()]
    assert not missing, f"{paper}/{paper}/ lacks {missing}"

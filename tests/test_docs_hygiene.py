"""User-facing text is clean: links in the docs lead into what the package ships, and no internal
source codes (`[V]`, `[M]`, "facts 7.1b", "issue 11") reach a user.

"Ships" is what pyproject.toml puts in the package (its packages, package-dir mapping and
package-data globs, and the README as the long description): the docs, examples, profiles and
templates travel inside the wheel; tests/, benchmarks/ and scripts/ do not, so a user reading
an installed copy (or PyPI) would find such a link dead.

User-facing text: README.md, CHANGELOG.md, docs/ (the spec reference is what `llmkube explain`
prints; docs/rules.md is every rule's docstring, as `llmkube rules show` prints it), the examples,
starters, templates, profiles (`llmkube profiles show` prints their notes) and every string in the
package that is not a docstring (messages, hints, notes).
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from tests.support.paths import REPO

DOCS = sorted([REPO / "README.md", REPO / "CHANGELOG.md", *(REPO / "docs").rglob("*.md")])
INTERNAL = [
    re.compile(r"\[(?:V|D|M|U)\]"),  # the facts file's verification tags
    re.compile(r"\bfacts\s*§?\s*\d"),  # its section numbers
    re.compile(r"(?<![\w#/.-])issues?\s+\d+\b", re.IGNORECASE),  # the project's own issue tracker
]


def shipped() -> set[str]:
    """Repository paths of every file the package ships."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    tool = config["tool"]["setuptools"]
    package_dir: dict[str, str] = tool.get("package-dir", {})
    package_data: dict[str, list[str]] = tool.get("package-data", {})
    out = {config["project"]["readme"]}
    for package in tool["packages"]:
        root = REPO / source_dir(package, package_dir)
        files = set(root.glob("*.py"))
        for pattern in package_data.get(package, []):
            files |= set(root.glob(pattern))
        out |= {f.relative_to(REPO).as_posix() for f in files if f.is_file()}
    return out


def source_dir(package: str, package_dir: dict[str, str]) -> str:
    """Where setuptools finds a package: the longest mapped parent, then the rest of the name as directories."""
    parts = package.split(".")
    for n in range(len(parts), 0, -1):
        parent = ".".join(parts[:n])
        if parent in package_dir:
            return "/".join([package_dir[parent], *parts[n:]])
    return "/".join(parts)


SHIPPED = shipped()


def test_the_shipped_set_is_what_pyproject_says():
    assert {"README.md", "docs/spec-reference.md", "docs/getting-started.md", "llmkube/cli.py", "templates/_pod.yaml.j2"} <= SHIPPED
    assert any(p.startswith("docs/examples/") for p in SHIPPED) and any(p.startswith("profiles/gpus/") for p in SHIPPED)
    assert not any(p.startswith(("tests/", "benchmarks/", "scripts/")) for p in SHIPPED)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(doc: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", doc.read_text(encoding="utf-8"), flags=re.M | re.S)
    return {_slug(h) for h in re.findall(r"^#+ +(.+?)\s*$", text, flags=re.M)}


def links(doc: Path) -> list[str]:
    text = re.sub(r"^```.*?^```", "", doc.read_text(encoding="utf-8"), flags=re.M | re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    return re.findall(r"\]\(([^)\s]+)\)", text)


def link_problems(doc: Path) -> list[str]:
    problems = []
    for target in links(doc):
        if re.match(r"^[a-z]+:", target):
            continue  # http(s), mailto
        path, _, anchor = target.partition("#")
        dest = (doc.parent / path).resolve() if path else doc
        try:
            rel = dest.relative_to(REPO).as_posix()
        except ValueError:
            problems.append(f"{target}: outside the repository")
            continue
        if not dest.exists():
            problems.append(f"{target}: no such file")
        elif not (rel in SHIPPED or any(s.startswith(rel.rstrip("/") + "/") for s in SHIPPED)):
            problems.append(f"{target}: {rel} is not shipped in the package")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{target}: no heading #{anchor} in {rel}")
    return problems


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.relative_to(REPO).as_posix())
def test_doc_links_lead_into_what_the_package_ships(doc):
    assert link_problems(doc) == []


def test_the_link_check_bites(tmp_path):
    doc = REPO / "docs" / "_probe.md"
    try:
        doc.write_text(
            "[a](../benchmarks/sizing_accuracy.py) [b](cli.md#no-such-heading) [c](cli.md#pre-commit) [d](nothing.md)\n",
            encoding="utf-8",
        )
        found = link_problems(doc)
    finally:
        doc.unlink()
    assert len(found) == 3 and "not shipped" in found[0] and "no heading" in found[1] and "no such file" in found[2]


def user_facing_files() -> list[Path]:
    globs = ["docs/examples/*.yaml", "templates/*", "llmkube/starters/*.yaml", "profiles/**/*.yaml"]
    return DOCS + sorted(f for g in globs for f in REPO.glob(g) if f.is_file())


def message_strings(source: Path) -> list[tuple[int, str]]:
    """Every string constant of a module but its docstrings (f-string parts included)."""
    tree = ast.parse(source.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def internal_codes(text: str) -> list[str]:
    return [m.group(0) for pattern in INTERNAL for m in pattern.finditer(text)]


def test_no_internal_codes_in_user_facing_files():
    found = [
        f"{f.relative_to(REPO)}:{n}: {internal_codes(line)}"
        for f in user_facing_files()
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1)
        if internal_codes(line)
    ]
    assert found == []


#: Repository paths a user of the package does not have (the test data, the research notes beside the repository).
INTERNAL_PATHS = re.compile(r"\.\./shared/|\btests/|\bbenchmarks/")


def test_no_repository_paths_in_what_the_package_prints():
    """Profiles, starters, templates and examples are printed or copied by users; docs/testing.md may name tests/."""
    found = [
        f"{f.relative_to(REPO)}:{n}: {m.group(0)}"
        for f in user_facing_files()
        if f.suffix != ".md"
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1)
        for m in INTERNAL_PATHS.finditer(line)
    ]
    assert found == []


def test_no_internal_codes_in_messages():
    found = [
        f"{f.relative_to(REPO)}:{n}: {internal_codes(s)}"
        for f in sorted((REPO / "llmkube").rglob("*.py"))
        for n, s in message_strings(f)
        if internal_codes(s)
    ]
    assert found == []


def test_the_code_check_bites():
    assert internal_codes("memoryGiB [V] = 79.19 (facts 7.1b); see issue 11") == ["[V]", "facts 7", "issue 11"]
    assert internal_codes("vllm-project/vllm#16570, kubeflow/trainer issue #2, Hopper [sm90]") == []
    probe = "x = 'shapes [M]'\ndef f():\n    '''Rule (facts §1.1).'''\n    return f'{x} facts 6'\n"
    p = REPO / "tests" / "_probe_module.py"
    try:
        p.write_text(probe, encoding="utf-8")
        hits = [s for _n, s in message_strings(p) if internal_codes(s)]
    finally:
        p.unlink()
    assert hits == ["shapes [M]", " facts 6"]

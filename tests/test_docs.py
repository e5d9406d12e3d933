"""The README stays a short front door, and the documentation's links lead somewhere.

- README.md is at most :data:`README_MAX_LINES` lines;
- every relative link and image in README.md and docs/*.md resolves to a file or folder of the
  repository, and a ``#fragment`` to a heading of the target (GitHub's anchors);
- every concept of the architecture's table has a row in the README's concept map, with a link
  to its code or its page (so each is at most two hops away);
- the vertical-vs-horizontal table keeps its corrected columns;
- every ``make TARGET`` the docs name is a target of the Makefile, and every
  ``python -m MODULE`` a module that exists.
"""

from __future__ import annotations

import importlib.util
import re
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
README_MAX_LINES = 250
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]

CONCEPTS = (
    "load balancing",
    "consistent hashing",
    "vertical scaling",
    "horizontal scaling",
    "cron job at off-peak hours",
    "backup, no single point of failure",
    "microservices",
    "distributed system",
    "decoupling",
    "logging and metrics",
    "extensibility",
    "message queue, async processing",
    "fault tolerance of the queue",
    "EC2, Aurora, ElastiCache",
    "Redis over Memcached",
)
"""The concepts of the architecture's table (the source notes' concepts, in English)."""

VERTICAL_HORIZONTAL = {
    "load balancer": ("not needed", "needed"),
    "failure": ("single point of failure", "resilient"),
    "calls between parts": ("inter-process, fast", "network calls, slower"),
    "data consistency": ("consistent", "harder to keep consistent"),
    "growth": ("hits a hardware ceiling", "scales well as users increase"),
}
"""The trade-offs, vertical then horizontal (the source notes swap them)."""

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
_HTML_ANCHOR = re.compile(r"<a\s+[^>]*(?:id|name)=\"([^\"]+)\"", re.IGNORECASE)
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_MAKE = re.compile(r"(?<![\w./-])make\s+((?:[A-Z_]+=\S+\s+)*)([a-z][a-z-]*)\b")
_PYTHON_M = re.compile(r"python\S*\s+-m\s+([A-Za-z_][\w.]*)")


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks."""
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens.

    Markup is dropped first: code spans keep their text, links their label.
    """
    text = _CODE_SPAN.sub(lambda m: m.group(2), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = text.replace("*", "")
    kept = "".join(ch for ch in text.lower() if ch.isalnum() or ch in " -_")
    return kept.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every anchor GitHub gives ``page``: its headings' slugs (repeats get -1, -2 ...) and HTML ids."""
    text = page.read_text(encoding="utf-8")
    found: set[str] = set(_HTML_ANCHOR.findall(text))
    seen: Counter[str] = Counter()
    for line in prose_lines(text):
        match = _HEADING.match(line)
        if match:
            base = slug(match.group(2))
            found.add(f"{base}-{seen[base]}" if seen[base] else base)
            seen[base] += 1
    return found


def links(page: Path) -> list[str]:
    """The link and image targets of ``page``, outside code blocks and code spans."""
    targets: list[str] = []
    for line in prose_lines(page.read_text(encoding="utf-8")):
        prose = _CODE_SPAN.sub("", line)
        targets += _INLINE_LINK.findall(prose)
        reference = _REFERENCE_LINK.match(prose)
        if reference:
            targets.append(reference.group(1))
    return targets


def broken_links(page: Path) -> list[str]:
    """Why each relative link of ``page`` leads nowhere: a missing file, or a fragment with no heading."""
    problems = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # http:, https:, mailto: ...
            continue
        path, _, fragment = target.partition("#")
        resolved = (page.parent / unquote(path)).resolve() if path else page
        if not resolved.exists():
            problems.append(f"{target}: no file {_shown(resolved)}")
        elif fragment and (resolved.suffix != ".md" or unquote(fragment).lower() not in anchors(resolved)):
            problems.append(f"{target}: no heading #{fragment} in {_shown(resolved)}")
    return problems


def _shown(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name


def code(text: str) -> str:
    """The code of ``text``: its fenced blocks and code spans, one per line."""
    pieces, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif fenced:
            pieces.append(line)
        else:
            pieces += [m.group(2) for m in _CODE_SPAN.finditer(line)]
    return "\n".join(pieces)


def table_rows(lines: list[str]) -> list[list[str]]:
    """The cells of each Markdown table row in ``lines`` (separator rows left out)."""
    rows = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("|") and not re.fullmatch(r"\|[\s:|-]+\|", stripped):
            rows.append([cell.strip() for cell in stripped.strip("|").split("|")])
    return rows


def section(page: Path, title: str) -> list[str]:
    """The prose lines of the section of ``page`` whose heading is ``title``, up to the next heading."""
    lines = prose_lines(page.read_text(encoding="utf-8"))
    start = next((i for i, line in enumerate(lines) if (m := _HEADING.match(line)) and m.group(2) == title), None)
    assert start is not None, f"{page.name} has no section {title!r}"
    end = next((i for i in range(start + 1, len(lines)) if _HEADING.match(lines[i])), len(lines))
    return lines[start + 1 : end]


# -- the checks' own tests: each one can fail -------------------------------------------------


def test_slugs_follow_github() -> None:
    assert slug("The API: `services/api`") == "the-api-servicesapi"
    assert slug("API node: `python -m services.api`") == "api-node-python--m-servicesapi"
    assert slug("Caching: the owner's LRU, then Redis, then the database") == (
        "caching-the-owners-lru-then-redis-then-the-database"
    )
    assert slug("Peer discovery: [`discovery.py`](x.py)") == "peer-discovery-discoverypy"


def test_a_broken_link_is_reported(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Title\n\n## Two words\n\n## Two words\n")
    page.write_text(
        "[ok](other.md#two-words) [ok too](other.md#two-words-1) [gone](missing.md) [bad](other.md#nope)\n"
        "```\n[in code](ignored.md)\n```\n`[in a span](ignored.md)` [web](https://example.com) [here](#local)\n"
        "[`label in code`](gone-too.md)\n"
        "## Local\n"
    )
    assert broken_links(page) == [
        "missing.md: no file missing.md",
        "other.md#nope: no heading #nope in other.md",
        "gone-too.md: no file gone-too.md",
    ]


def test_commands_are_read_from_code_only() -> None:
    text = "a make target where one exists: `make demo PORT=9090`, `make PYTHON=python3.12 test`\n```\nmake bench\n```"
    assert [m.group(2) for m in _MAKE.finditer(code(text))] == ["demo", "test", "bench"]


# -- the documentation ----------------------------------------------------------------------


def test_the_readme_is_a_short_front_door() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines; at most {README_MAX_LINES}: move details to docs/"
    )


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_relative_links_resolve(page: Path) -> None:
    assert broken_links(page) == []


def test_every_concept_has_a_row_with_a_link_in_the_readme_map() -> None:
    rows = {row[0].strip("*").lower(): row for row in table_rows(section(README, "Concepts and where they live"))}
    missing = [concept for concept in CONCEPTS if concept.lower() not in rows]
    assert missing == [], f"concepts missing from the README's concept map: {missing}"
    unlinked = [concept for concept in CONCEPTS if not _INLINE_LINK.search(" | ".join(rows[concept.lower()][1:]))]
    assert unlinked == [], f"concept map rows without a link to code or docs: {unlinked}"


def test_the_vertical_horizontal_table_is_the_corrected_one() -> None:
    rows = {row[0]: tuple(row[1:]) for row in table_rows(section(README, "Vertical or horizontal scaling"))}
    assert rows.get("") == ("vertical (bigger machine)", "horizontal (more machines)")
    assert {key: rows.get(key) for key in VERTICAL_HORIZONTAL} == VERTICAL_HORIZONTAL


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_commands_name_what_exists(page: Path) -> None:
    commands = code(page.read_text(encoding="utf-8"))
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(encoding="utf-8"), re.MULTILINE))
    unknown_targets = sorted({m.group(2) for m in _MAKE.finditer(commands)} - targets)
    assert unknown_targets == [], f"{page.name} names make targets the Makefile lacks: {unknown_targets}"
    modules = {m.group(1).rstrip(".") for m in _PYTHON_M.finditer(commands)}
    unknown_modules = sorted(module for module in modules if not _module_exists(module))
    assert unknown_modules == [], f"{page.name} names modules that do not exist: {unknown_modules}"


def _module_exists(module: str) -> bool:
    """True if ``module`` is one of the repository's (a file or package) or importable."""
    path = ROOT.joinpath(*module.split("."))
    if module.partition(".")[0] in ("services", "stacks", "scripts", "tests"):
        return path.with_suffix(".py").exists() or (path / "__init__.py").exists()
    return importlib.util.find_spec(module) is not None

"""Docs that stay true: links and anchors resolve, every `fashion-edge` flag a page names exists, and
the project speaks of itself as it is (its history lives in CHANGELOG.md)."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").glob("*.md")),
         REPO / "apps" / "web" / "README.md"]
README_MAX_LINES = 200

FENCE = re.compile(r"^```.*?^```", re.S | re.M)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*$", re.M)


def _prose(text: str) -> str:
    return FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation removed, spaces to '-'."""
    text = re.sub(r"[`*]|<[^>]+>", "", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for _, title in HEADING.findall(_prose(path.read_text())):
        base = slug(title)
        n = seen.get(base, 0)
        found.add(base if n == 0 else f"{base}-{n}")
        seen[base] = n + 1
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_and_anchor_resolves(page):
    broken = []
    for target in LINK.findall(_prose(page.read_text())):
        if re.match(r"[a-z]+:", target):            # http:, https:, mailto:: not ours to check offline
            continue
        file, _, anchor = target.partition("#")
        dest = (page.parent / file).resolve() if file else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading #{anchor} in {dest.relative_to(REPO)}")
    assert not broken, broken


def test_the_anchor_rule_is_githubs():
    assert slug("Formats, calibration and the parity gate") == "formats-calibration-and-the-parity-gate"
    assert slug("`make pi-check`: the kit on an emulated Pi") == "make-pi-check-the-kit-on-an-emulated-pi"
    assert slug("`size_checks`") == "size_checks"
    assert slug("Preprocessing `fashion-mnist-v1` (what the app must reproduce)") == \
        "preprocessing-fashion-mnist-v1-what-the-app-must-reproduce"


def _parser_flags() -> dict[str | None, set[str]]:
    """Each sub-command's flags as its --help lists them (None: the top-level command's)."""
    from fashion_edge.cli.main import build_parser

    parser = build_parser()
    flags = {None: {o for a in parser._actions for o in a.option_strings}}
    for action in parser._actions:
        for name, sub in getattr(action, "choices", None).items() if action.dest == "command" else ():
            flags[name] = {o for a in sub._actions for o in a.option_strings}
    return flags


# `fashion-edge SUB ...` up to the end of its command: a comment, a pipe, another command or a code span's end.
INVOCATION = re.compile(r"fashion-edge((?:\s+[^\s`#|;&)]+)+)")


def named_flags(text: str) -> list[tuple[str | None, str, str]]:
    """(sub-command, flag, the text naming it) for every `fashion-edge ...` a page shows."""
    spans = [m.group(0) for m in FENCE.finditer(text)] + re.findall(r"`([^`\n]+)`", _prose(text))
    found = []
    for span in spans:
        for line in span.splitlines():
            for m in INVOCATION.finditer(line):
                words = m.group(1).split()
                sub = words[0] if not words[0].startswith("-") else None
                for word in words:
                    if word.startswith("--"):
                        found.append((sub, word.split("=")[0], m.group(0)))
    return found


def test_every_fashion_edge_flag_a_page_names_exists():
    flags = _parser_flags()
    wrong = []
    for page in PAGES:
        for sub, flag, said in named_flags(page.read_text()):
            if sub is not None and sub not in flags:
                continue          # `fashion-edge-edge-pi/install.sh` and other names that only start alike
            if flag not in flags[sub]:
                wrong.append(f"{page.relative_to(REPO)}: {said!r}: {flag} is not in `fashion-edge {sub or ''} --help`")
    assert not wrong, wrong
    assert sum(len(named_flags(p.read_text())) for p in PAGES) > 40   # the pages do name flags: the check reads them


def test_the_flag_check_sees_a_flag_that_does_not_exist():
    assert ("export", "--frobnicate", "fashion-edge export artifacts/edge --frobnicate") in named_flags(
        "```\nfashion-edge export artifacts/edge --frobnicate   # no such flag\n```")
    assert "--frobnicate" not in _parser_flags()["export"]


def test_readme_is_short_and_shows_the_two_commands():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= README_MAX_LINES
    assert "make demo" in text and "make test" in text


# The history of the work belongs in commit messages and CHANGELOG.md, never in what describes the code.
NARRATION = re.compile(r"\b(this|last|earlier|previous|latest|next|that) (session|stop)\b|\bissue #?\d+\b|"
                       r"\bcommit [0-9a-f]{7}|\bseed tutorial\b", re.I)


def test_docs_and_code_do_not_narrate_how_the_work_went():
    files = subprocess.run(["git", "ls-files", "README.md", "docs", "*.py", "*.js", "*.mjs", "*.sh", "Makefile"],
                           cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    hits = [f"{name}:{i}: {line.strip()}" for name in files if (REPO / name).is_file()
            for i, line in enumerate((REPO / name).read_text(errors="replace").splitlines(), 1)
            if NARRATION.search(line) and name != "tests/test_docs.py"]
    assert not hits, hits


def test_the_wheel_the_pages_name_is_this_version():
    version = re.search(r'^version = "([^"]+)"', (REPO / "pyproject.toml").read_text(), re.M).group(1)
    named = {v for page in PAGES for v in re.findall(r"fashion_edge-(\d+\.\d+\.\d+)-py3", page.read_text())}
    assert named <= {version}, f"pages name wheels {named}; pyproject.toml says {version}"

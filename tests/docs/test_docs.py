"""The docs cannot drift: every example in README.md and docs/*.md runs against a live server and
prints what the docs show (scripts/docs.py; `make docs` rewrites them), and every link between
them lands on a file and a heading that exist."""

import re
from pathlib import Path

import pytest

from scripts import docs

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\]\(([^)#\s]*)(?:#([^)\s]+))?\)")


@pytest.mark.slow
def test_every_example_prints_what_the_docs_show(live_url: str) -> None:
    differences = docs.check(live_url, write=False)
    assert not differences, "run `make docs` and read the diff:\n\n" + "\n\n".join(differences)


def test_every_example_is_run() -> None:
    """A block the runner cannot run, or one that does not say what it is, fails here."""
    found = [example for path in docs.FILES for example in docs.examples(path)]
    assert len(found) >= 20
    assert {example.kind for example in found} == {"console", "python"}


def test_numbers_match_within_rounding_and_columns_may_move() -> None:
    documented = "prediction  [-0.284548619196707]\n  prediction      0         0         yes"
    printed = "prediction  [-0.28454861919670704]\n  prediction      5.55e-17  1.95e-16  yes"
    assert docs.same(documented, printed)  # another CPU's last digits
    assert not docs.same("loss 0.98773", "loss 0.98774")  # beyond rounding
    assert not docs.same("agree: yes", "agree: no")
    assert not docs.same("a  b", "ab")  # a space is not nothing


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def headings(path: Path) -> set[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {anchor(line.lstrip("#")) for line in lines if re.match(r"#{1,6} ", line)}


@pytest.mark.parametrize("path", docs.FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_lands(path: Path) -> None:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    for target, fragment in LINK.findall(text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        linked = (path.parent / target).resolve() if target else path
        assert linked.exists(), f"{path.name} links to {target}, which does not exist"
        if fragment and linked.suffix == ".md":
            assert fragment in headings(linked), f"{path.name} links to {target}#{fragment}"

"""Documentation is part of the change: generated references are current, and every vocabulary value and audit
event type is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from plateledger import docsgen
from plateledger.adapters import SOURCES
from plateledger.audit.events import event_classes
from plateledger.vocab import AgencyKind, Purpose, QueryKind, Role

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.parametrize("name", sorted(docsgen.GENERATED))
def test_generated_reference_is_current(name: str) -> None:
    current = (DOCS / name).read_text()
    assert current == docsgen.GENERATED[name](), f"docs/{name} is stale: run `make docs`"


def test_every_audit_event_documented() -> None:
    text = (DOCS / "audit.md").read_text()
    for cls in event_classes():
        assert f"`{cls.action}`" in text, cls.action
        assert f"`{cls.__name__}`" in text, cls.__name__


@pytest.mark.parametrize("vocabulary", [Purpose, AgencyKind, Role, QueryKind])
def test_every_vocabulary_value_documented(vocabulary: type) -> None:
    text = (DOCS / "vocabularies.md").read_text()
    for value in vocabulary:
        assert f"`{value.value}`" in text, value


def test_readme_quick_start_is_the_two_commands() -> None:
    readme = (DOCS.parent / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("##", 1)[0]
    commands = [line.split("#")[0].strip() for line in quick.splitlines() if line.startswith("make ")]
    assert commands == ["make demo", "make test"]


def test_docs_links_resolve() -> None:
    import re

    for doc in [DOCS.parent / "README.md", *DOCS.glob("*.md")]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text()):
            assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"


def _integration_sections() -> dict[str, str]:
    """docs/integrations.md's second-level sections by the `name` in their heading (`## Axis ... — `axis``)."""
    import re

    sections: dict[str, str] = {}
    for part in (DOCS / "integrations.md").read_text().split("\n## ")[1:]:
        heading, _, body = part.partition("\n")
        if named := re.search(r"`([a-z_]+)`\s*$", heading):
            sections[named.group(1)] = body
    return sections


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_every_http_source_has_an_integration_section(source: str) -> None:
    body = _integration_sections().get(source)
    assert body is not None, f"docs/integrations.md has no section headed `{source}`"
    assert f"/api/v1/ingest/{source}" in body, f"the {source} section does not name its endpoint"
    for part in ("**Camera id:**", "**Not supported:**"):
        assert part in body, f"the {source} section has no {part}"


def test_frigate_has_an_integration_section() -> None:
    body = _integration_sections().get("frigate")
    assert body is not None, "docs/integrations.md has no section headed `frigate`"
    for topic in ("frigate/tracked_object_update", "frigate/events", "plateledger mqtt"):
        assert topic in body, topic
    for part in ("**Camera id:**", "**Not supported:**"):
        assert part in body, f"the frigate section has no {part}"

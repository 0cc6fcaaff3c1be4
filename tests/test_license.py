"""The repository's LICENSE is the GNU AGPL v3 text, and the wheel ships it (pyproject's ``license-files``)."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: MD5 of the FSF's agpl-3.0.txt (the text Debian's libsoftware-license-perl and the SPDX list carry, word for word).
AGPL_3_MD5 = "73f1eb20517c55bf9493b7dd6e480788"


def test_license_is_the_agpl_v3_text() -> None:
    text = (ROOT / "LICENSE").read_bytes()
    assert text.lstrip().startswith(b"GNU AFFERO GENERAL PUBLIC LICENSE\n                       Version 3, 19 November")
    assert hashlib.md5(text, usedforsecurity=False).hexdigest() == AGPL_3_MD5


def test_pyproject_declares_the_license_and_ships_the_file() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    assert project["license"] == "AGPL-3.0-or-later"
    assert project["license-files"] == ["LICENSE"]
    # license-files in [project] (PEP 639) needs setuptools 77; older ones refuse the project table.
    assert any(req.replace(" ", "").startswith("setuptools>=77") for req in pyproject["build-system"]["requires"])

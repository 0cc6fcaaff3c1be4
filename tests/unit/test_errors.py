"""The exception hierarchy: every class carries what the HTTP handler and the CLI need."""

from __future__ import annotations

import re

import pytest

from plateledger.core import errors
from plateledger.core.errors import ApprovalRequired, FieldInvalid, PlateledgerError, all_error_classes

CLASSES = all_error_classes()


def make(cls: type[PlateledgerError]) -> PlateledgerError:
    if issubclass(cls, FieldInvalid):
        return cls("plate", "must have 1-10 letters or digits")
    if issubclass(cls, ApprovalRequired):
        return cls("held for a supervisor's approval", 41)
    return cls("something went wrong")


def test_the_walk_finds_the_whole_tree() -> None:
    assert CLASSES[0] is PlateledgerError
    defined = {obj for obj in vars(errors).values() if isinstance(obj, type) and issubclass(obj, PlateledgerError)}
    assert set(CLASSES) == defined
    assert len(CLASSES) == len(set(CLASSES))


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_each_class_has_status_title_slug_and_exit_code(cls: type[PlateledgerError]) -> None:
    assert 400 <= cls.status <= 599
    assert cls.title.strip()
    assert re.fullmatch(r"[a-z]+(-[a-z]+)*", cls.slug)
    assert isinstance(cls.exit_code, int)
    assert cls.exit_code != 0
    error = make(cls)
    assert error.type_uri.endswith("/" + cls.slug)
    assert str(error) == error.detail


@pytest.mark.parametrize("cls", CLASSES[1:], ids=lambda c: c.__name__)
def test_each_class_is_drawn_in_the_module_docstring(cls: type[PlateledgerError]) -> None:
    assert errors.__doc__ is not None
    assert "\n    PlateledgerError\n" in errors.__doc__  # the root of the drawn tree
    drawn = re.search(rf"\b{cls.__name__}\s+(\d{{3}})\b", errors.__doc__)
    assert drawn, f"{cls.__name__} missing from the tree in core/errors.py"
    assert int(drawn.group(1)) == cls.status


def test_slugs_are_unique() -> None:
    slugs = [cls.slug for cls in CLASSES]
    assert len(slugs) == len(set(slugs))


def test_client_errors_and_server_errors() -> None:
    by_name = {cls.__name__: cls for cls in CLASSES}
    assert by_name["FieldInvalid"].status == 422
    assert by_name["AuthenticationFailed"].status == 401
    assert by_name["PermissionDenied"].status == 403
    assert by_name["AuditUnavailable"].status == 503
    assert (by_name["TooManyRequests"].status, by_name["TooManyRequests"].exit_code) == (429, 9)


def test_exit_codes_tell_a_spent_budget_from_other_refusals() -> None:
    codes = {cls.__name__: cls.exit_code for cls in CLASSES}
    assert codes["TooManyRequests"] not in {c for name, c in codes.items() if name != "TooManyRequests"}


def test_field_invalid_names_the_field_and_the_rule() -> None:
    error = FieldInvalid("case_number", "required")
    assert (error.field, error.rule, error.detail) == ("case_number", "required", "case_number: required")


def test_exit_codes_tell_the_failures_apart() -> None:
    """Scripts branch on the CLI's exit code: a new kind of failure takes a code of its own. A subclass may share
    its parent's (every input error exits 2); otherwise only the two credential refusals share 3, on purpose."""

    def family(cls: type[PlateledgerError]) -> str:
        """The topmost ancestor below PlateledgerError with the same exit code."""
        for base in reversed(cls.__mro__):
            below_root = issubclass(base, PlateledgerError) and base is not PlateledgerError
            if below_root and base.exit_code == cls.exit_code:
                return base.__name__
        return cls.__name__

    by_code: dict[int, set[str]] = {}
    for cls in CLASSES:
        if cls is not PlateledgerError:
            by_code.setdefault(cls.exit_code, set()).add(family(cls))
    clashes = {code: names for code, names in by_code.items() if len(names) > 1}
    assert clashes == {3: {"AuthenticationFailed", "PermissionDenied"}}, clashes

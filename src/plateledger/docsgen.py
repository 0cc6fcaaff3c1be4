"""Generate the reference docs from the code: docs/cli.md (commands), docs/api.md (OpenAPI), docs/configuration.md
(settings). ``python -m plateledger.docsgen`` rewrites them; a test fails when they are stale."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import typer

from plateledger.core.errors import PlateledgerError, all_error_classes
from plateledger.core.settings import CLI_ENV, ENV_PREFIX, Settings, load_settings

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _commands(group: Any, prefix: str) -> list[tuple[str, Any]]:
    """Leaf commands under a group (Typer vendors its own click, so this goes by shape, not class)."""
    found: list[tuple[str, Any]] = []
    if hasattr(group, "commands"):
        for name in sorted(group.commands):
            found.extend(_commands(group.commands[name], f"{prefix} {name}"))
    else:
        found.append((prefix, group))
    return found


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def cli_reference() -> str:
    from plateledger.cli.main import app

    root = typer.main.get_command(app)
    lines = [
        "# CLI reference",
        "",
        "Generated from the code by `python -m plateledger.docsgen`; do not edit by hand.",
        "",
        "Errors print one line on stderr (`error: ...`) and exit non-zero, with the code of the kind of failure",
        "(1 for commands whose own help says so):",
        "",
        "| exit | error | HTTP | what |",
        "|---|---|---|---|",
        *_exit_codes(),
        "",
    ]
    lines += ["## `plateledger`", "", "Options before the command (`plateledger --config FILE serve`).", ""]
    lines += ["| parameter | meaning | default |", "|---|---|---|"]
    lines += [
        f"| {', '.join(f'`{o}`' for o in param.opts)} | {_cell(getattr(param, 'help', None) or '')} | |"
        for param in root.params
        if param.name != "help"
    ]
    lines.append("")
    for path, command in _commands(root, "plateledger"):
        lines += [f"## `{path}`", "", (command.help or "").strip(), ""]
        arguments = [p for p in command.params if p.param_type_name == "argument"]
        usage_args = " ".join(str(p.name).upper() for p in arguments)
        lines += ["```", f"{path} [OPTIONS] {usage_args}".rstrip(), "```", ""]
        rows = []
        for param in command.params:
            if param.param_type_name == "argument":
                rows.append((f"`{str(param.name).upper()}`", "argument", ""))
            elif param.param_type_name == "option" and param.name != "help":
                blank = param.default is None or param.default is False or param.default == "" or param.is_flag
                default = "" if blank else f"`{param.default}`"
                rows.append((", ".join(f"`{o}`" for o in param.opts), _cell(param.help or ""), default))
        if rows:
            lines += ["| parameter | meaning | default |", "|---|---|---|"]
            lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
            lines.append("")
    return "\n".join(lines)


def _exit_codes() -> list[str]:
    """One row per exit code of the error hierarchy (core/errors.py), the family's first class named."""
    rows: dict[int, list[type[PlateledgerError]]] = {}
    for cls in all_error_classes():
        if cls is not PlateledgerError:
            rows.setdefault(cls.exit_code, []).append(cls)
    lines = []
    for code, classes in sorted(rows.items()):
        names = ", ".join(f"`{c.__name__}`" for c in classes)
        statuses = ", ".join(sorted({str(c.status) for c in classes}))
        what = "; ".join(sorted({c.title.lower() for c in classes}))
        lines.append(f"| {code} | {names} | {statuses} | {what} |")
    return lines


def api_reference() -> str:
    from plateledger.app import create_app
    from plateledger.platform import Platform

    with tempfile.TemporaryDirectory() as tmp:
        platform = Platform.open(load_settings(data=Path(tmp)))
        try:
            spec: dict[str, Any] = create_app(platform=platform).openapi()
        finally:
            platform.close()
    lines = [
        "# HTTP API reference",
        "",
        "Generated from the OpenAPI document (`/openapi.json`) by `python -m plateledger.docsgen`; do not edit.",
        "Authenticate with `Authorization: Bearer <token>` (the `bearer` security scheme) wherever an operation",
        "says so. Errors are RFC 9457 `application/problem+json` (schema `Problem`): `type`, `title`, `status`,",
        "`detail`, `instance`, and `field` when one field is at fault. A method a path does not have is a 405",
        "whose `Allow` header names those it has.",
        "",
        "| status | type | when |",
        "|---|---|---|",
    ]
    for cls in all_error_classes():
        lines.append(f"| {cls.status} | `{cls.slug}` | {(cls.__doc__ or cls.title).strip().splitlines()[0]} |")
    lines.append("")
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            lines += [f"## `{method.upper()} {path}`", "", op.get("summary", ""), ""]
            if op.get("description"):
                lines += [op["description"].strip(), ""]
            params = op.get("parameters", [])
            if params:
                lines += ["| parameter | in | required | description |", "|---|---|---|---|"]
                for p in params:
                    desc = p.get("description", "") or p.get("schema", {}).get("description", "")
                    values = _enum_values(p.get("schema", {}))
                    if values:
                        desc = f"{desc} (one of {', '.join(f'`{v}`' for v in values)})".strip()
                    required = "yes" if p.get("required") else "no"
                    lines.append(f"| `{p['name']}` | {p['in']} | {required} | {_cell(desc)} |")
                lines.append("")
            codes = ", ".join(sorted(op.get("responses", {})))
            token = "bearer token" if op.get("security") else "none (public)"
            lines += [f"Token: {token}. Responses: {codes}", ""]
    return "\n".join(lines)


def _enum_values(schema: dict[str, Any]) -> list[str]:
    """The closed vocabulary of a parameter's schema (``enum``, possibly inside ``anyOf`` with null)."""
    for option in schema.get("anyOf", [schema]):
        if "enum" in option:
            return [str(v) for v in option["enum"]]
    return []


def configuration_reference() -> str:
    lines = [
        "# Configuration",
        "",
        "Generated from `plateledger.core.settings.Settings` by `python -m plateledger.docsgen`; do not edit.",
        f"Each setting is read from the environment as `{ENV_PREFIX}<NAME>` (or a command-line option where the",
        "command has one). Unknown `PLATELEDGER_*` variables are refused at start-up, so a typo cannot leave a",
        "default silently in force. In `production`, binding all interfaces is refused.",
        "",
        "Settings can also come from a TOML file named by `plateledger --config FILE` or `PLATELEDGER_CONFIG`:",
        'top-level `name = value` pairs with the names below (`port = 8080`, `log_format = "json"`); an unknown',
        "name is refused too. Precedence: a command-line flag, then the environment, then the file, then the",
        "default (docs/operations.md, Running it).",
        "",
        "| setting | environment variable | default | description |",
        "|---|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        default = field.default if field.default is not None else ""
        lines.append(f"| `{name}` | `{ENV_PREFIX}{name.upper()}` | `{default}` | {_cell(field.description or '')} |")
    lines += ["", "Variables of the CLI rather than of the instance:", ""]
    lines += [
        f"- `{name}`: the caller's API token for `plateledger search` (instead of `--token`)." for name in CLI_ENV
    ]
    lines.append("")
    return "\n".join(lines)


def permissions_reference() -> str:
    from plateledger.policy.actions import markdown_table

    intro = (
        "# Permissions\n\n"
        "Generated from `plateledger.policy.actions.TABLE` by `python -m plateledger.docsgen`; do not edit by hand.\n\n"
        "Every management and read operation is an *action*. Each service calls `require(who, action, agency)` "
        "before it acts: the API, the web UI and the CLI reach the same check, so a refusal reads the same "
        "through each door. A refusal is appended to the audit log as `action.refused` (with the action, the "
        "reason and the agency asked for) before the error is returned; if that append fails, the request "
        "fails with 503 (fail closed).\n\n"
        "- **roles**: the roles that may do it; **agency**: *own agency* when the role must belong to the "
        "agency acted on (agency A's admin cannot manage agency B), *any agency* when the target does not "
        "matter; *anyone (public)* when no credential is needed at all (what is published: transparency "
        "reports and the policies they print), so nothing is checked.\n"
        "- **console**: whether an operator at the command line, acting locally on the data directory (no "
        "token), may do it. Commands that take `--token` act as that token's user instead.\n"
        "- What a search may *read* is not decided here but by each data owner's policy and sharing agreements "
        "([sharing.md](sharing.md)); this table only says who may ask.\n\n"
    )
    return intro + markdown_table()


GENERATED = {
    "cli.md": cli_reference,
    "api.md": api_reference,
    "configuration.md": configuration_reference,
    "permissions.md": permissions_reference,
}


def main() -> None:
    for name, build in GENERATED.items():
        (DOCS / name).write_text(build())
        sys.stdout.write(f"wrote docs/{name}\n")


if __name__ == "__main__":
    main()

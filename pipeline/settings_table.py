"""The README's configuration tables, generated from the settings' declarations
(:mod:`pipeline.settings`): ``python -m pipeline.settings_table`` prints them, ``--write
README.md`` replaces the table between the markers; a test keeps the README equal to them."""

from __future__ import annotations

from pathlib import Path

from pydantic.fields import FieldInfo

from pipeline.settings import SETTINGS_CLASSES, as_env, declarations


def _default_text(field: FieldInfo) -> str:
    text = as_env(field.get_default(call_default_factory=True), field)
    return f"`{text}`" if text else "unset"


def settings_table() -> str:
    """The README's configuration tables, one per settings class and one row per variable,
    from the declarations (``python -m pipeline.settings`` prints them)."""
    parts = []
    for cls in SETTINGS_CLASSES:
        rows = [f"**{cls.__doc__.split('.')[0]}** (`pipeline.settings.{cls.__name__}`)",
                "", "| variable | default | meaning |", "| --- | --- | --- |"]
        for owner, variable, field in declarations():
            if owner is cls:
                meaning = " ".join((field.description or "").split()).replace("|", "\\|")
                rows.append(f"| `{variable}` | {_default_text(field)} | {meaning} |")
        parts.append("\n".join(rows) + "\n")
    return "\n".join(parts)


def write_table(readme: Path) -> None:
    """Replace the generated table between the markers in ``readme``."""
    text = readme.read_text()
    start = text.index(_TABLE_START)
    start = text.index("\n", start) + 1
    end = text.index(_TABLE_END, start)
    readme.write_text(text[:start] + settings_table() + text[end:])


_TABLE_START, _TABLE_END = "<!-- settings-table", "<!-- /settings-table -->"

if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["--write"]:
        write_table(Path(sys.argv[2]))
    else:
        print(settings_table(), end="")

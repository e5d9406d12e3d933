"""The files an instance boots with, kept as real files under ``deploy/`` and filled in at synth.

A template names each value it needs as ``{{Name}}``; :func:`render` replaces every one and
fails, naming the file and the placeholder, if a value is missing or was never used (a typo
on either side). Values may be CDK tokens: CloudFormation then joins the file's text with the
references at deploy time, so the files stay readable and lintable as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final

DEPLOY_DIR: Final = Path(__file__).resolve().parent.parent / "deploy"
"""The boot files: systemd units, environment files, CloudWatch agent configuration, boot scripts."""

PLACEHOLDER: Final = re.compile(r"\{\{([A-Za-z][A-Za-z0-9]*)\}\}")


class BootFileError(ValueError):
    """A boot file and its values do not match; the message names the file and the placeholder."""


def placeholders(text: str) -> set[str]:
    """The names of the ``{{Name}}`` placeholders in ``text``."""
    return set(PLACEHOLDER.findall(text))


def render(name: str, text: str, values: Mapping[str, str]) -> str:
    """``text`` (the file ``name``) with each ``{{Name}}`` replaced by ``values[Name]``.

    Raises :class:`BootFileError` if a placeholder has no value or a value has no placeholder.
    """
    needed = placeholders(text)
    missing, unused = needed - set(values), set(values) - needed
    if missing:
        raise BootFileError(f"{name}: no value for {', '.join(sorted(missing))}")
    if unused:
        raise BootFileError(f"{name}: no placeholder for {', '.join(sorted(unused))}")
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def read(relative: str, values: Mapping[str, str] | None = None) -> str:
    """The boot file ``deploy/<relative>``, rendered with ``values`` (none: it must have no placeholders)."""
    path = DEPLOY_DIR / relative
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise BootFileError(f"boot file {path} does not exist") from None
    return render(relative, text, values or {})

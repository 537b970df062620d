"""Where the built-in profiles and templates are, installed or in a checkout.

They live at the top of the repository (`profiles/`, `templates/`) and are
installed as the data packages `llmkube.builtin_profiles` and
`llmkube.builtin_templates` (see pyproject.toml), so both a wheel and an
editable install find them through the import system.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent


def builtin_dir(package: str, checkout_dir: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            if Path(location).is_dir():
                return Path(location)
    return _CHECKOUT / checkout_dir


def builtin_profiles() -> Path:
    return builtin_dir("llmkube.builtin_profiles", "profiles")


def builtin_templates() -> Path:
    return builtin_dir("llmkube.builtin_templates", "templates")

"""Small typed readers for settings that come from the environment."""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

# The one list of yes/no words: environment variables, query flags and API filters.
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def parse_bool(raw: str) -> bool | None:
    """True or False for a yes/no word (any case, surrounding spaces), None for anything else."""
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """A setting with a fixed set of values: any other is refused at start-up."""
    value = os.environ.get(name, default)
    if value not in choices:
        allowed = " or ".join(repr(choice) for choice in choices)
        raise ImproperlyConfigured(f"{name}={value!r}: use {allowed}.")
    return value


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = parse_bool(raw) if raw.strip() else False
    if value is not None:
        return value
    raise ValueError(f"{name}={raw!r} is not a boolean (use one of {sorted(TRUE_WORDS)})")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as error:
        raise ValueError(f"{name}={raw!r} is not an integer") from error


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError as error:
        raise ValueError(f"{name}={raw!r} is not a number") from error


def env_list(name: str, default: list[str] | None = None, separator: str = ",") -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(separator) if item.strip()]

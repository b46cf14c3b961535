"""Reading the field rules kept as data in config/ (TOML): one reader, so every mistake names the file and the key.

Each configuration file has one typed loader in the capability that owns it (``core.practice``, ``cases.rules``,
``documents.types``, ``requests.config``, ``packets.profile``); a stage gets the loaded value through
``rt.config(loader)``, so each file is read once per runtime.
"""

from __future__ import annotations

import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any

from .errors import ConfigError


def load_toml(config_dir: Path, name: str) -> dict[str, Any]:
    path = config_dir / name
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"Missing configuration file {path}. Restore it from the repository.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Configuration file {path} is not valid TOML ({exc}). Fix the marked line.") from exc


class TomlTable:
    """Typed access to one TOML table; every failure names the file and the dotted key."""

    def __init__(self, path: Path, data: dict[str, Any], where: str = "") -> None:
        self.path, self.data, self.where = path, data, where

    @classmethod
    def load(cls, config_dir: Path, name: str) -> TomlTable:
        return cls(config_dir / name, load_toml(config_dir, name))

    def fail(self, key: str, what: str) -> ConfigError:
        dotted = f"{self.where}.{key}" if self.where else key
        return ConfigError(f"{self.path}: the key {dotted} {what}. Fix it in that file.")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if key not in self.data:
            if default is ...:
                raise self.fail(key, "is missing")
            return default
        value = self.data[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(key, f"must be a {names}")
        return value

    def table(self, key: str, default: Any = ...) -> TomlTable:
        value = self.get(key, dict, default)
        return TomlTable(self.path, value if isinstance(value, dict) else {}, f"{self.where}.{key}".lstrip("."))

    def tables(self, key: str) -> list[TomlTable]:
        """An array of tables (``[[key]]``), each a TomlTable; a missing key is an empty list."""
        out = []
        for index, item in enumerate(self.get(key, list, [])):
            if not isinstance(item, dict):
                raise self.fail(f"{key}[{index}]", "must be a table")
            out.append(TomlTable(self.path, item, f"{self.where}.{key}[{index}]".lstrip(".")))
        return out

    def strings(self, key: str, default: Any = ...) -> tuple[str, ...]:
        value = self.get(key, list, default)
        if not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of strings")
        return tuple(value)

    def choice(self, key: str, choices: type[StrEnum] | tuple[str, ...], default: Any = ...) -> str:
        value = self.get(key, str, default)
        allowed = tuple(c.value for c in choices) if isinstance(choices, type) else choices
        if value not in allowed:
            raise self.fail(key, f"is {value!r}; use one of: {', '.join(allowed)}")
        return str(value)

    def nonneg(self, key: str, default: Any = ...) -> int:
        value = int(self.get(key, int, default))
        if value < 0:
            raise self.fail(key, "must not be negative")
        return value

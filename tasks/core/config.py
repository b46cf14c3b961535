"""Loading the field rules kept as data in config/ (TOML)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from casefile.tasks.core.errors import ConfigError


def load_toml(config_dir: Path, name: str) -> dict[str, Any]:
    path = config_dir / name
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"Missing configuration file {path}. Restore it from the repository.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Configuration file {path} is not valid TOML ({exc}). Fix the marked line.") from exc

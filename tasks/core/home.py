"""Which casefile home a command uses, where that choice came from, and whether the home exists yet.

A home exists once its catalog does (the SQLite file under it; a catalog on a database server is taken to exist).
Commands that only read refuse to run where there is none (flows/cli/output.py ``runtime``) rather than create an
empty catalog and answer "no cases yet" from the wrong folder; commands that create say where they created it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import NotFoundError
from .settings import Settings

HOME_FOLDER = ".casefile"  # the default home, in the working directory


@dataclass(frozen=True)
class Home:
    path: Path
    source: str  # how it was chosen: "CASEFILE_HOME", "the config file" or "the working directory"
    exists: bool
    in_working_directory: bool  # the home is ./.casefile of the working directory


def _catalog_exists(settings: Settings) -> bool:
    url = settings.catalog_url
    if not url.startswith("sqlite:///"):
        return True  # a database server: its existence is the administrator's business
    return Path(url.removeprefix("sqlite:///")).is_file()


def locate_home(settings: Settings) -> Home:
    here = (Path.cwd() / HOME_FOLDER).resolve()
    if os.environ.get("CASEFILE_HOME"):
        source = "CASEFILE_HOME"
    elif settings.home != here:
        source = "the config file"
    else:
        source = "the working directory"
    return Home(settings.home, source, _catalog_exists(settings), settings.home == here)


class HomeNotFound(NotFoundError):
    """A command that reads was run where no casefile home exists."""

    def __init__(self, home: Home) -> None:
        if home.source == "the working directory":
            where = f"CASEFILE_HOME is not set, so casefile looked in {HOME_FOLDER} in the working directory"
        else:
            where = f"it was chosen by {home.source}"
        super().__init__(
            f"There is no casefile home at {home.path} ({where}); nothing was read or created. Run the command "
            f"from the folder that holds your {HOME_FOLDER} (cd), or set CASEFILE_HOME to that {HOME_FOLDER} "
            "folder. To start a new home here, set up the practice (`casefile practice init`), create a case "
            "(`casefile case new`) or run `casefile demo`."
        )
        self.home = home

"""The bench config file ``memlab.toml``: defaults a lab PC sets once.

Looked for in the working folder first, then in the user's config folder
(``%APPDATA%\\memlab\\memlab.toml`` on Windows, ``$XDG_CONFIG_HOME/memlab/memlab.toml``
or ``~/.config/memlab/memlab.toml`` elsewhere). Per key the first file that
sets it wins; a flag on the command line wins over both. Keys::

    operator = "A. Person"          # stored in every run archive (--operator)
    address = "GPIB0::17::INSTR"    # VISA address of the B1500A (--address)
    visa_library = "@ivi"           # pyvisa backend: @ivi, @py, FILE.yaml@sim, a VISA library path (--visa-library)
    output_folder = "D:/runs"       # where a relative `measure --out` goes (--output-folder)

An unknown key or a value that is not a string is refused, naming the file.
``memlab config`` prints each value and where it came from. Nothing is read
at import: commands call :func:`load_settings` when they run.
"""

from __future__ import annotations

import os
import pathlib
import sys
import tomllib
from dataclasses import dataclass
from typing import Mapping

from memlab.errors import ConfigError

FILE_NAME = "memlab.toml"
DEFAULT_ADDRESS = "GPIB0::17::INSTR"
KEYS: dict[str, tuple[str, str | None, str]] = {
    # key: (flag, default, what it is)
    "operator": ("--operator", None, "operator name stored in run archives"),
    "address": ("--address", DEFAULT_ADDRESS, "VISA address of the B1500A"),
    "visa_library": ("--visa-library", None, "pyvisa backend (default: system VISA, else pyvisa-py)"),
    "output_folder": ("--output-folder", None, "folder of a relative `measure --out` (default: working folder)"),
}


@dataclass(frozen=True)
class Setting:
    """One resolved value and where it came from (a flag, a file's path, or ``default``)."""

    key: str
    value: str | None
    origin: str


def user_config_dir(env: Mapping[str, str] | None = None) -> pathlib.Path:
    """The user's config folder for memlab (not created)."""
    env = os.environ if env is None else env
    if sys.platform == "win32" and env.get("APPDATA"):
        return pathlib.Path(env["APPDATA"]) / "memlab"
    base = env.get("XDG_CONFIG_HOME") or str(pathlib.Path(env.get("HOME", "~")).expanduser() / ".config")
    return pathlib.Path(base) / "memlab"


def config_files(cwd: str | os.PathLike | None = None, env: Mapping[str, str] | None = None) -> list[pathlib.Path]:
    """The candidate files, highest priority first (existing or not)."""
    here = pathlib.Path.cwd() if cwd is None else pathlib.Path(cwd)
    return [here / FILE_NAME, user_config_dir(env) / FILE_NAME]


def read_file(path: pathlib.Path) -> dict[str, str]:
    """The settings of one file, validated (ConfigError names the file and key)."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    for key, value in data.items():
        if key not in KEYS:
            raise ConfigError(f"{path}: unknown key {key!r}; allowed {', '.join(KEYS)}")
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{path}: {key} = {value!r}: must be a non-empty string")
    return {k: v.strip() for k, v in data.items()}


def load_settings(flags: Mapping[str, str | None] | None = None, *, cwd: str | os.PathLike | None = None,
                  env: Mapping[str, str] | None = None) -> dict[str, Setting]:
    """Every key resolved: the flag if given, else the first config file that sets it, else the default."""
    flags = dict(flags or {})
    unknown = set(flags) - set(KEYS)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}")
    files = [(path, read_file(path)) for path in config_files(cwd, env) if path.is_file()]
    out = {}
    for key, (flag, default, _) in KEYS.items():
        if flags.get(key) is not None:
            out[key] = Setting(key, flags[key], flag)
            continue
        found = next(((str(path), values[key]) for path, values in files if key in values), None)
        out[key] = Setting(key, found[1], found[0]) if found else Setting(key, default, "default")
    return out


def resolve_out(out: str | os.PathLike, folder: Setting) -> pathlib.Path:
    """``out`` placed in the output folder when it is relative and a folder is configured."""
    path = pathlib.Path(out)
    if folder.value is None or path.is_absolute():
        return path
    return pathlib.Path(folder.value).expanduser() / path

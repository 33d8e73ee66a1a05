"""`--config FILE` and `--set KEY=VALUE` for every command that builds a typed config tree.

One merge order everywhere: defaults -> preset -> `--config FILE` (YAML) -> flags -> `--set a.b=value`.
A flag is a shorthand for one key path (`FLAG_PATHS` of each command); a flag left unset overrides nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TypeVar

import yaml

from arc_efe.config import ConfigError, from_dict, merge, nested, parse_override

T = TypeVar("T")


def add_config_arguments(p: argparse.ArgumentParser, example: str) -> None:
    p.add_argument("--config", help="YAML file with any subset of the config tree")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help=f"override any config field, e.g. --set {example}")


def resolve_config(cls: type[T], base: dict, args: argparse.Namespace, flag_paths: dict[str, str]) -> T:
    """`cls` from `base` (defaults, preset applied), then the YAML file, the flags set, the overrides;
    validated. Raises ConfigError naming any unknown or ill-typed key."""
    data = base
    if getattr(args, "config", None):
        path = Path(args.config)
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(f"{path}: cannot read the config file ({err})") from err
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        data = merge(data, loaded)
    for dest, key in flag_paths.items():
        value: Any = getattr(args, dest, None)
        if value is not None:
            data = merge(data, nested(key, value))
    for text in getattr(args, "overrides", []):
        data = merge(data, parse_override(text))
    cfg = from_dict(cls, data)
    try:
        cfg.validate()
    except ValueError as err:
        raise ConfigError(str(err)) from err
    return cfg

from dataclasses import dataclass, field
from typing import Literal

import pytest

from arc_efe.config import ConfigError, diff, from_dict, merge, parse_override, to_dict


@dataclass
class Inner:
    width: int = 4
    name: str = "a"
    rate: float = 0.5
    mode: Literal["x", "y"] = "x"
    limit: int | None = None


@dataclass
class Outer:
    inner: Inner = field(default_factory=Inner)
    sources: list[str] = field(default_factory=lambda: ["s"])
    targets: tuple[str, ...] = ("q",)
    flag: bool = False


def test_round_trip_and_defaults():
    cfg = Outer(inner=Inner(width=7, limit=3), sources=["a", "b"], targets=("k", "v"), flag=True)
    assert from_dict(Outer, to_dict(cfg)) == cfg
    assert from_dict(Outer, {}) == Outer()


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match=r"inner: unknown key\(s\) \['widht'\]"):
        from_dict(Outer, {"inner": {"widht": 3}})


@pytest.mark.parametrize("data, fragment", [
    ({"inner": {"width": "3"}}, "inner.width: expected an integer"),
    ({"inner": {"width": 2.5}}, "inner.width: expected an integer"),
    ({"inner": {"mode": "z"}}, "inner.mode: 'z' is not one of"),
    ({"flag": 1}, "flag: expected true/false"),
    ({"sources": "abc"}, "sources: expected a list"),
])
def test_bad_types_are_named(data, fragment):
    with pytest.raises(ConfigError, match=fragment):
        from_dict(Outer, data)


def test_int_promotes_to_float_and_optional_accepts_none():
    cfg = from_dict(Outer, {"inner": {"rate": 1, "limit": None}})
    assert cfg.inner.rate == 1.0 and isinstance(cfg.inner.rate, float) and cfg.inner.limit is None


def test_overrides_merge_and_diff():
    data = merge(to_dict(Outer()), parse_override("inner.width=9"))
    data = merge(data, parse_override("inner.name=hello"))
    cfg = from_dict(Outer, data)
    assert cfg.inner.width == 9 and cfg.inner.name == "hello" and cfg.inner.rate == 0.5
    assert diff(to_dict(Outer()), to_dict(cfg)) == ["inner.name: 'a' -> 'hello'", "inner.width: 4 -> 9"]
    with pytest.raises(ConfigError):
        parse_override("no-equals-sign")


def test_mapping_fields_are_checked_key_by_key():
    from arc_efe.training.config import DataConfig

    cfg = from_dict(DataConfig, {"gen_weights": {"scale_up": 2}})
    assert cfg.gen_weights == {"scale_up": 2.0} and isinstance(cfg.gen_weights["scale_up"], float)
    with pytest.raises(ConfigError, match="gen_weights.scale_up"):
        from_dict(DataConfig, {"gen_weights": {"scale_up": "lots"}})
    with pytest.raises(ConfigError, match="expected a mapping"):
        from_dict(DataConfig, {"gen_weights": [1, 2]})

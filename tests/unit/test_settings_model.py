"""The settings are parsed without pydantic (a cold start does not build an 80-field
validator, issue 14), yet accept and refuse what pydantic would: each setting is fed awkward
environment strings, and the answers are compared with a pydantic model made from the same
declarations (types, constraints, validators)."""
from __future__ import annotations

import subprocess
import sys
from typing import Any, Literal, Union, get_args, get_origin

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from pydantic import Field as PydanticField
from pydantic import field_validator as pydantic_validator

from shared.core.config import ConfigError, Settings, get_settings, reset_settings
from shared.core.settingsmodel import InvalidSettings
from tests.conftest import ROOT

INTS = ["5", " 5 ", "5.0", "5.", "5.5", "1_000", "+3", "-3", "0x10", "1e3", "٣", "", " ",
        "05", "5\n", "\t7", "0", "1", "10000000000000000000000", "1__0", "_1", "1_", ".0", "-0"]
FLOATS = ["1.5", " 2 ", "inf", "nan", "-inf", "1e3", "1_0.5", "0", ".5", "5.", "+1",
          "infinity", "1,5", "0x1p3", "٣", "", "1e400", "-0.0", "0.0001", "NaN", "Infinity"]
BOOLS = ["true", "True", "TRUE", "1", "yes", "on", "t", "y", "0", "off", "no", "f", "n",
         "false", " true", "2", "tru", "On", "", "YES", "1.0"]
STRINGS = ["", " ", "x", "off", "off\n", "22:00-08:00", "22:00-08:00\n", "24:00-08:00",
           "image/png", "image/png,image/gif", "image/bmp", "image/png\n", "marketing_push_batch",
           "a", "ab", "a-b_", "-ab", "密钥", "10.0.0.1, 10.1.0.0/16", "10.0.0.1, nope", "warning"]


def _mirror() -> type[BaseModel]:
    """The settings as the pydantic model they were until issue 14."""
    fields: dict[str, Any] = {}
    for name, info in Settings.model_fields.items():
        constraints = {k: getattr(info, k) for k in ("ge", "gt", "le", "lt", "pattern",
                                                    "min_length", "max_length")
                       if getattr(info, k) is not None}
        fields[name] = (info.annotation, PydanticField(default=info.default, **constraints))
    validators = {}
    for name, checks in Settings._validators.items():
        for attribute, mode in checks:
            def run(cls: Any, value: Any, attribute: str = attribute) -> Any:
                return getattr(Settings, attribute)(value)
            validators[f"{name}_{attribute}"] = pydantic_validator(name, mode=mode)(
                classmethod(run))  # type: ignore[call-overload]
    return create_model("MirrorSettings", __config__=ConfigDict(extra="ignore", frozen=True),
                        __validators__=validators, **fields)


def _samples(annotation: Any, info: Any) -> list[str]:
    kind = annotation
    if get_origin(annotation) is Union:  # Optional[X]
        kind = next(a for a in get_args(annotation) if a is not type(None))
    if get_origin(kind) is Literal:
        return [str(c) for c in get_args(kind)] + \
            [str(c).upper() for c in get_args(kind)] + [f" {get_args(kind)[0]}", "x", ""]
    extra = [str(v) for v in (info.default, info.ge, info.gt, info.le, info.lt) if v is not None]
    bounds = [str(b + d) for b in (info.ge, info.gt, info.le, info.lt) if b is not None
              for d in (-1, 1)]
    return {int: INTS, float: FLOATS, bool: BOOLS, str: STRINGS}[kind] + extra + bounds


def _answer(make: Any, name: str, value: str) -> Any:
    try:
        return ("ok", getattr(make(**{name: value}), name))
    except (ValidationError, InvalidSettings):
        return ("refused", None)


def test_every_setting_accepts_and_refuses_what_pydantic_would() -> None:
    mirror = _mirror()
    differences = []
    for name, info in Settings.model_fields.items():
        for value in _samples(info.annotation, info):
            ours, theirs = _answer(Settings, name, value), _answer(mirror, name, value)
            same = ours == theirs or (ours[0] == theirs[0] == "ok" and ours[1] != ours[1]
                                      and theirs[1] != theirs[1])  # nan is nan
            if not same:
                differences.append((name, value, ours, theirs))
    assert differences == []


def test_the_defaults_are_pydantics_defaults() -> None:
    mirror = _mirror()()
    ours = Settings()
    assert {n: getattr(ours, n) for n in Settings.model_fields} == \
        {n: getattr(mirror, n) for n in Settings.model_fields}


def test_every_invalid_setting_is_named_in_declaration_order(monkeypatch) -> None:
    monkeypatch.setenv("MAX_UNPAID_ORDERS", "0")
    monkeypatch.setenv("LOG_LEVEL", "LOUD")
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.1, nope")
    reset_settings()

    with pytest.raises(ConfigError) as refused:
        get_settings()

    assert str(refused.value) == \
        "invalid settings: MAX_UNPAID_ORDERS, LOG_LEVEL, TRUSTED_PROXIES"


def test_the_settings_are_frozen_and_ignore_unknown_names() -> None:
    settings = Settings(NOT_A_SETTING="1", SHOP_ENV="test")
    with pytest.raises(AttributeError):
        settings.SHOP_ENV = "production"  # type: ignore[misc]
    assert not hasattr(settings, "NOT_A_SETTING") and settings.SHOP_ENV == "test"
    assert "TOKEN_SECRET" not in repr(settings) and settings.TOKEN_SECRET not in repr(settings)


def test_reading_the_settings_does_not_load_pydantic() -> None:
    code = ("import sys; from shared.core.config import get_settings; get_settings(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('pydantic', 'pydantic_core')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=str(ROOT), capture_output=True,
                         text=True, env={"PATH": "", "PYTHONPATH": str(ROOT),
                                         "SHOP_ENV": "test"}, check=True)
    assert out.stdout.strip() == "[]"


def test_a_copy_with_changes_checks_them_and_leaves_the_original() -> None:
    from shared.core.config import get_settings
    from shared.core.settingsmodel import InvalidSettings
    settings = get_settings()
    copy = settings.model_copy(update={"TIMER_BATCH_SIZE": 7})
    assert (copy.TIMER_BATCH_SIZE, copy.SHOP_ENV) == (7, settings.SHOP_ENV)
    assert settings.TIMER_BATCH_SIZE != 7 or copy is not settings
    with pytest.raises(InvalidSettings):
        settings.model_copy(update={"TIMER_BATCH_SIZE": "many"})

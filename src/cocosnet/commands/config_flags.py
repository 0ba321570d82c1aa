"""Command-line options made from the config dataclasses, so the dataclass stays the one list of options.

`add_dataclass_flags` gives every field a flag (its type, default and help from the field); `parse_sets` reads
`--set SECTION.FIELD=VALUE` overrides (`--set loss.perceptual=0.002`), checked against the section's fields.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    """(the type, whether None is allowed) of `T`, `T | None` or `Optional[T]`."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return hint, False


class _ExtendItems(argparse.Action):
    """A `tuple[T, ...]` field's flag: repeatable, each value a comma list (`--freeze a,b` = `--freeze a
    --freeze b`); every item checked against the choices."""

    def __call__(self, parser, namespace, values, option_string=None):
        items = [item.strip() for item in str(values).split(",") if item.strip()]
        bad = [item for item in items if self.item_choices and item not in self.item_choices]
        if bad or not items:
            parser.error(f"argument {option_string}: invalid choice {', '.join(bad) or repr(values)} (choose from "
                         f"{', '.join(self.item_choices)})")
        setattr(namespace, self.dest, (*getattr(namespace, self.dest, ()), *items))


def add_dataclass_flags(parser: argparse.ArgumentParser, cls: type, *, title: str,
                        aliases: Mapping[str, Sequence[str]] | None = None,
                        defaults: Mapping[str, Any] | None = None,
                        helps: Mapping[str, str] | None = None) -> None:
    """One `--field-name` flag per field of dataclass `cls` (dest = the field name), in an argument group.

    aliases: other flag names of a field (earlier spellings); defaults / helps: where the command line means
    something else than the dataclass (e.g. "auto" worker counts). bool fields get `--x / --no-x`; tuple fields
    a repeatable flag taking comma lists."""
    aliases, defaults, helps = aliases or {}, defaults or {}, helps or {}
    group = parser.add_argument_group(title)
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        names = [f"--{f.name.replace('_', '-')}", *aliases.get(f.name, ())]
        text = helps.get(f.name, f.metadata.get("help", "")).replace("%", "%%") + " (default: %(default)s)"
        default = defaults.get(f.name, f.default)
        kind, _ = _unwrap_optional(hints[f.name])
        if kind is bool:
            group.add_argument(*names, dest=f.name, action=argparse.BooleanOptionalAction, default=default,
                               help=text)
        elif typing.get_origin(kind) is Literal:
            group.add_argument(*names, dest=f.name, choices=typing.get_args(kind), default=default, help=text)
        elif typing.get_origin(kind) is tuple:
            item = typing.get_args(kind)[0]
            choices = typing.get_args(item) if typing.get_origin(item) is Literal else ()
            action = group.add_argument(*names, dest=f.name, action=_ExtendItems, default=tuple(default),
                                        metavar="{" + ",".join(choices) + "}" if choices else None, help=text)
            action.item_choices = choices
        else:
            group.add_argument(*names, dest=f.name, type=kind, default=default, help=text)


def dataclass_from_args(cls: type, args: argparse.Namespace, **changes: Any) -> Any:
    """The dataclass from the flags `add_dataclass_flags` made (plus `changes`)."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)}
    return cls(**{**values, **changes})


def _checked_value(section: type, name: str, value: Any, item: str) -> Any:
    """`value` as field `name` of `section` takes it (an int for a float field becomes a float), or ValueError."""
    kind, optional = _unwrap_optional(typing.get_type_hints(section)[name])
    if value is None and optional:
        return None
    if typing.get_origin(kind) is Literal:
        if value not in typing.get_args(kind):
            raise ValueError(f"--set {item}: {name} must be one of {', '.join(map(str, typing.get_args(kind)))}")
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind in (bool, int, float, str) and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
        raise ValueError(f"--set {item}: {name} takes a {kind.__name__}, got {value!r}")
    return value


def parse_sets(items: Sequence[str], sections: Mapping[str, type], bare: Mapping[str, str],
               default_section: str, moved: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """`KEY=VALUE` items -> {section: {field: value}}. KEY is `section.field` (`loss.perceptual`), or a bare field
    of `default_section` (`ngf`), or a bare name `bare` sends elsewhere (`warp_chunk` -> runtime). VALUE is JSON
    (numbers, true/false, null) or else a string. moved: where a former field went, for the error message."""
    out: dict[str, dict[str, Any]] = {name: {} for name in sections}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set takes KEY=VALUE, got {item!r}")
        key, raw = (part.strip() for part in item.split("=", 1))
        section, _, name = key.rpartition(".")
        section = section or bare.get(name, default_section)
        if section not in sections:
            raise ValueError(f"--set {item}: unknown section {section!r}; use one of {', '.join(sections)} "
                             f"(e.g. --set loss.perceptual=0.002)")
        cls = sections[section]
        fields = [f.name for f in dataclasses.fields(cls)]
        if name not in fields:
            where = f" ({name} moved: use {moved[name]})" if moved and name in moved else ""
            raise ValueError(f"--set {item}: {cls.__name__} has no field {name!r}{where}; its fields: "
                             f"{', '.join(fields)}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[section][name] = _checked_value(cls, name, value, item)
    return out


__all__ = ["add_dataclass_flags", "dataclass_from_args", "parse_sets"]

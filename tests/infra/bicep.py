"""infra/*.bicep as data, parsed by pycep (the parser checkov uses), for the tests here.

pycep gives each file's parameters, variables and resources as JSON-like data; an
expression is a dict under "function" or "operator", and an identifier is a plain
string, like a literal (only keys and literal values are read here).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
EXPRESSION_KEYS = frozenset({"function", "operator"})


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


@cache
def parsed(path: Path) -> dict[str, Any]:
    return BicepParser().parse(text=path.read_text())


def is_expression(value: object) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in EXPRESSION_KEYS


def body(config: dict[str, Any]) -> dict[str, Any]:
    """A resource's properties without its ``if (...)`` or ``[for ...]`` wrapper."""
    while "loop_type" in config or set(config) == {"condition", "config"}:
        config = config["config"]
    return config


@dataclass(frozen=True)
class Resource:
    file: Path
    symbol: str
    type: str
    api_version: str
    existing: bool
    config: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{self.file.relative_to(ROOT)} {self.symbol} ({self.type}@{self.api_version})"


def resources(path: Path | None = None) -> Iterator[Resource]:
    for file in [path] if path else bicep_files():
        for symbol, res in parsed(file).get("resources", {}).items():
            yield Resource(
                file, symbol, res["type"], res["api_version"], res["existing"], body(res["config"])
            )


def variable(path: Path, name: str) -> Any:
    return parsed(path)["variables"][name]["value"]


def parameter(path: Path, name: str) -> dict[str, Any]:
    return parsed(path)["parameters"][name]

"""Operator input checked the same way by every command line (the app's flags, `serve`'s flags,
the environment variables behind them): numbers within bounds and hosts to listen on.

Each check is an argparse type: a bad value ends in one line saying what is allowed (argparse
puts the flag's name before it), never in a traceback or an overflow later on. A value read
from an environment variable (`from_env`) names the variable too.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ViewComfyError

_WHOLE = re.compile(r"[+-]?\d{1,18}")  # longer is no count anyone means (and int() may refuse)
_HOSTNAME = re.compile(r"(?=.*[a-zA-Z])[a-zA-Z0-9]([a-zA-Z0-9.-]{0,251}[a-zA-Z0-9])?")


class InputError(ViewComfyError, argparse.ArgumentTypeError):
    """An operator's value is not allowed; the message says what is."""


class EnvValue(str):
    """A flag's default read from an environment variable: its errors name the variable."""

    variable: str


def from_env(environ: Mapping[str, str], variable: str) -> EnvValue | None:
    """The variable's value as a default that names it in errors (None: unset or empty)."""
    raw = (environ.get(variable) or "").strip()
    if not raw:
        return None
    value = EnvValue(raw)
    value.variable = variable
    return value


def refuse(text: str, rule: str) -> InputError:
    """The error for `text`, which is not `rule` ("a whole number from 1 to 9")."""
    where = f" (from {text.variable})" if isinstance(text, EnvValue) else ""
    return InputError(f"must be {rule}, not {text[:24]!r}{where}")


@dataclass(frozen=True)
class Number:
    """An argparse type: a number from `low` to `high` (`low` itself only if `low_included`),
    a whole one if `whole`. Refuses nan, infinities and huge values rather than overflowing."""

    low: float
    high: float
    whole: bool = False
    low_included: bool = True

    def __call__(self, text: str) -> float:
        value = self._parse(text.strip())
        if value is None or not self._within(value):
            raise refuse(text, self.rule)
        return value

    def _within(self, value: float) -> bool:
        above = value >= self.low if self.low_included else value > self.low
        return above and value <= self.high

    def _parse(self, text: str) -> float | None:
        if self.whole:
            return int(text) if _WHOLE.fullmatch(text) else None
        try:
            value = float(text)
        except ValueError:
            return None
        return value if math.isfinite(value) else None

    @property
    def rule(self) -> str:
        kind = "a whole number" if self.whole else "a number"
        low, high = _plain(self.low), _plain(self.high)
        if self.low_included:
            return f"{kind} from {low} to {high}"
        return f"{kind} above {low} and at most {high}"


MEGABYTES = Number(0.01, 1 << 20)  # a size limit in MiB: 10 KiB to 1 TiB


def _plain(value: float) -> str:
    """1048576, not 1.04858e+06; 0.5 as 0.5."""
    return f"{int(value)}" if float(value).is_integer() else f"{value:g}"


def listen_host(text: str) -> str:
    """An argparse type: an address of this machine to listen on (an IP address or a host
    name; ``0.0.0.0`` or ``::`` for all)."""
    host = text.strip()
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        if not _HOSTNAME.fullmatch(host) or host.replace(".", "").isdigit():
            raise refuse(
                text, "an IP address or host name, such as 127.0.0.1 (0.0.0.0: all)"
            ) from None
        family = socket.AF_UNSPEC
    try:
        info = socket.getaddrinfo(host, 0, family, socket.SOCK_STREAM)[0]
        with socket.socket(info[0], info[1]) as probe:
            probe.bind(info[4])
    except OSError:
        raise refuse(text, "an address of this machine, such as 127.0.0.1 (0.0.0.0: all)") from None
    return host

"""Device registry for the HJ 212 receiver: MN → password, enterprise USCC, outlet, region.

File formats (chosen by suffix):

* CSV with a header row: ``mn,password,uscc,outlet_code,region_code`` (``name`` optional; extra
  columns are ignored), UTF-8 (a BOM is tolerated).
* JSON: a list of objects with the same keys, or ``{"devices": [...]}``.

Modes: ``registered`` rejects an unknown MN (reason ``unknown_mn`` → ``QnRtn`` 4) and a wrong PW
(``bad_pw`` → ``QnRtn`` 3); ``open`` accepts everything and returns the same words as flags so the
landing record says ``unregistered`` / ``bad_pw``.  A USCC failing its GB 32100 check character is
loaded (early codes were legally issued that way) and listed in ``DeviceRegistry.warnings``.

:class:`AuthThrottle` counts failed authentications per peer address and per MN, so that guessing
passwords is refused for a while after a few failures (the receiver uses it in registered mode); an
MN's block spares the addresses that recently authenticated it, so a stranger cannot lock a logger out.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ingest.hj212.protocol import BAD_PW, UNKNOWN_MN

__all__ = ["AuthThrottle", "Device", "DeviceRegistry", "RegistryMode", "uscc_check_ok"]

RegistryMode = Literal["open", "registered"]

# GB 32100-2015: charset (value = index) and weights 3**i mod 31 (DOMAIN.md §5).
_USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))


def uscc_check_ok(uscc: str) -> bool:
    """True if ``uscc`` is 18 chars of the GB 32100 charset with a correct check character."""
    if len(uscc) != 18 or any(c not in _USCC_CHARSET for c in uscc):
        return False
    total = sum(_USCC_CHARSET.index(c) * w for c, w in zip(uscc[:17], _USCC_WEIGHTS, strict=True))
    return _USCC_CHARSET[(31 - total % 31) % 31] == uscc[17]


@dataclass(frozen=True, slots=True)
class Device:
    mn: str
    password: str
    uscc: str = ""
    outlet_code: str = ""
    region_code: str = ""
    name: str = ""


@dataclass
class DeviceRegistry:
    devices: dict[str, Device] = field(default_factory=dict)
    mode: RegistryMode = "open"
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_rows(
        cls, rows: Iterable[Mapping[str, object]], mode: RegistryMode = "registered"
    ) -> DeviceRegistry:
        reg = cls(mode=mode)
        for i, row in enumerate(rows):
            mn = str(row.get("mn") or "").strip()
            if not mn:
                reg.warnings.append(f"row {i}: no mn")
                continue
            dev = Device(
                mn=mn,
                password=str(row.get("password") or row.get("pw") or ""),
                uscc=str(row.get("uscc") or "").strip(),
                outlet_code=str(row.get("outlet_code") or "").strip(),
                region_code=str(row.get("region_code") or "").strip(),
                name=str(row.get("name") or "").strip(),
            )
            if mn in reg.devices:
                reg.warnings.append(f"row {i}: duplicate mn {mn}")
            if dev.uscc and not uscc_check_ok(dev.uscc):
                reg.warnings.append(f"row {i}: USCC {dev.uscc} fails the GB 32100 check")
            if dev.region_code and not (len(dev.region_code) == 6 and dev.region_code.isdigit()):
                reg.warnings.append(f"row {i}: region code {dev.region_code!r} is not 6 digits")
            reg.devices[mn] = dev
        return reg

    @classmethod
    def load(cls, path: str | Path, mode: RegistryMode = "registered") -> DeviceRegistry:
        p = Path(path)
        text = p.read_text(encoding="utf-8-sig")
        if p.suffix.lower() == ".json":
            data = json.loads(text)
            rows = data["devices"] if isinstance(data, dict) else data
            if not isinstance(rows, list):
                raise ValueError(f"{p}: expected a list of devices")
            return cls.from_rows(rows, mode)
        return cls.from_rows(csv.DictReader(io.StringIO(text)), mode)

    def __len__(self) -> int:
        return len(self.devices)

    def get(self, mn: str | None) -> Device | None:
        return self.devices.get(mn) if mn else None

    def check(self, mn: str | None, pw: str | None) -> str | None:
        """``None`` if the MN is registered with this PW, else ``"unknown_mn"`` or ``"bad_pw"`` (the
        quarantine reasons, in registered mode)."""
        dev = self.devices.get(mn) if mn else None
        if dev is None:
            return UNKNOWN_MN
        if dev.password != (pw or ""):
            return BAD_PW
        return None


class AuthThrottle:
    """Failed authentications per peer address and per MN; ``max_failures`` within ``window_s``
    block that key for ``block_s``.

    A blocked peer or MN is refused without checking the password, so guessing learns nothing while
    the block lasts.  An MN's block does not apply to the addresses that authenticated that MN
    recently (:meth:`succeeded`: its last ``remember_peers`` addresses, each for ``remember_s`` after
    it was last seen), as web logins spare a device that logged in before (OWASP's device cookies):
    a stranger who knows a logger's MN and guesses its password blocks the MN for strangers only,
    while the logger reconnecting from its address is still let in.  A peer's block spares those
    remembered (address, MN) pairs too: one address is often many loggers (an enterprise's outlets
    behind one router, a carrier's NAT), and one misconfigured logger there must not get the others'
    good data refused.  A failure for a remembered pair forgets it, so guessing that MN's password
    from its own address meets the peer's limit.  (The receiver also exempts connections that
    already authenticated that MN.)

    Memory is bounded: at most ``max_keys`` failure counters, blocks and MNs with remembered
    addresses are kept (the oldest are forgotten first).  ``refused`` counts refused attempts,
    ``blocks`` the blocks set.
    """

    def __init__(
        self,
        *,
        max_failures: int = 5,
        window_s: float = 60.0,
        block_s: float = 300.0,
        remember_peers: int = 4,
        remember_s: float = 7 * 86400.0,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.block_s = block_s
        self.remember_peers = remember_peers
        self.remember_s = remember_s
        self.max_keys = max_keys
        self._clock = clock
        self._failures: dict[str, tuple[float, int]] = {}  # key -> (window start, failures)
        self._blocked: dict[str, float] = {}  # key -> blocked until
        # MN -> {peer: last authenticated}; both in order of last success, oldest first
        self._known: dict[str, dict[str, float]] = {}
        self.refused = 0
        self.blocks = 0

    @property
    def active(self) -> bool:
        """Any key blocked (the receiver's fast path skips the lookups otherwise)."""
        return bool(self._blocked)

    def failed(self, peer: str, mn: str | None) -> list[str]:
        """Record one failure; returns the keys (``peer:…``, ``mn:…``) it blocked."""
        if self.max_failures <= 0:
            return []
        now = self._clock()
        self._known.get(mn or "", {}).pop(peer, None)  # a failing pair is no longer vouched for
        newly: list[str] = []
        for key in (f"peer:{peer}", f"mn:{mn or ''}"):
            start, n = self._failures.get(key, (now, 0))
            if now - start >= self.window_s:
                start, n = now, 0
            n += 1
            if n >= self.max_failures:
                self._failures.pop(key, None)
                self._blocked[key] = now + self.block_s
                self.blocks += 1
                newly.append(key)
            else:
                self._failures[key] = (start, n)
        self._bound(now)
        return newly

    def succeeded(self, peer: str, mn: str) -> None:
        """Remember that ``peer`` authenticated ``mn`` now (its MN's blocks will spare it)."""
        if self.max_failures <= 0 or self.remember_peers <= 0:
            return
        now = self._clock()
        peers = self._known.pop(mn, {})  # re-inserted last: the least recent MNs go first
        peers.pop(peer, None)
        peers[peer] = now
        while len(peers) > self.remember_peers:
            del peers[next(iter(peers))]
        self._known[mn] = peers
        while len(self._known) > self.max_keys:  # the first is the least recent (expired ones first)
            del self._known[next(iter(self._known))]

    def remembered(self, peer: str, mn: str | None) -> bool:
        """True if ``peer`` authenticated ``mn`` within ``remember_s`` (and is among its last few)."""
        seen = self._known.get(mn or "", {}).get(peer)
        return seen is not None and self._clock() - seen < self.remember_s

    def blocked(self, peer: str, mn: str | None) -> bool:
        """True if the peer or the MN is blocked now and the peer did not authenticate that MN
        recently (counted in ``refused``)."""
        now = self._clock()
        blocked = self._in_force(f"peer:{peer}", now) or self._in_force(f"mn:{mn or ''}", now)
        if blocked and not self.remembered(peer, mn):
            self.refused += 1
            return True
        return False

    def _in_force(self, key: str, now: float) -> bool:
        until = self._blocked.get(key)
        if until is None:
            return False
        if now >= until:
            del self._blocked[key]
            return False
        return True

    def _bound(self, now: float) -> None:
        for table, alive in (
            (self._failures, lambda v: now - v[0] < self.window_s),
            (self._blocked, lambda v: now < v),
        ):
            if len(table) > self.max_keys:
                for k in [k for k, v in table.items() if not alive(v)]:
                    del table[k]
                while len(table) > self.max_keys:
                    del table[next(iter(table))]

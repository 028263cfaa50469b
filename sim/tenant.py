"""A simulated Exchange Online tenant: the org setting and every CAS mailbox.

Follows docs/simulator.md (Exchange admin API facts, with their public sources), section "The setting":
the org value is TransportConfig.SmtpClientAuthenticationDisabled (True = SMTP
AUTH off for the org) and each mailbox carries SmtpClientAuthenticationDisabled
True (off), False (ON even when the org has it off) or None (follow the org).

Storage is columnar (bytearrays for GUIDs and settings, flat lists for
addresses and names) so that 100,000 mailboxes take a few tens of MB and seed in
well under a second. SimMailbox objects are immutable snapshots made on demand;
change state through the tenant (set_override, or Set-CASMailbox over HTTP).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from sim.authentication_policy import AuthPolicies

# One byte per mailbox for SmtpClientAuthenticationDisabled.
_ENCODE: dict[bool | None, int] = {None: 0, False: 1, True: 2}
_DECODE: tuple[bool | None, ...] = (None, False, True)

# uuid4 bits: version nibble 4 in byte 6, RFC 4122 variant in byte 8.
_VERSION4 = bytes((b & 0x0F) | 0x40 for b in range(256))
_VARIANT = bytes((b & 0x3F) | 0x80 for b in range(256))


@dataclass(frozen=True, slots=True)
class SimMailbox:
    """Snapshot of one mailbox as Get-CASMailbox would describe it."""

    index: int
    guid: str
    primary_smtp_address: str
    display_name: str
    smtp_auth_disabled: bool | None
    external_directory_object_id: str
    aliases: tuple[str, ...] = ()
    when_changed: float | None = None  # epoch seconds of the last Set-*, if any

    @property
    def address(self) -> str:
        """Short for primary_smtp_address."""
        return self.primary_smtp_address

    @property
    def name(self) -> str:
        """Exchange Name/alias: the local part of the primary address."""
        return self.primary_smtp_address.split("@", 1)[0]


def _uuid4_bytes(rng: random.Random, count: int) -> bytearray:
    """`count` deterministic uuid4 values packed as 16 bytes each."""
    raw = bytearray(rng.randbytes(16 * count))
    # Extended-slice translate fixes the version/variant bits of all at once.
    raw[6::16] = raw[6::16].translate(_VERSION4)
    raw[8::16] = raw[8::16].translate(_VARIANT)
    return raw


def _guid_text(buf: bytearray, index: int) -> str:
    """The `index`-th packed GUID as str(uuid.UUID(bytes=...)) writes it, without
    building a UUID (a page of 1,000 mailboxes formats 2,000 of them)."""
    h = buf[index * 16 : index * 16 + 16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _find16(buf: bytearray, raw: bytes) -> int | None:
    """Index of the 16-byte record equal to `raw` (C-speed scan, no dict)."""
    start = 0
    while True:
        pos = buf.find(raw, start)
        if pos < 0:
            return None
        if pos % 16 == 0:
            return pos // 16
        start = pos + 1


def _parse_guid(text: str) -> bytes | None:
    try:
        return uuid.UUID(text).bytes
    except ValueError:
        return None


class SimTenant:
    """One tenant: org SMTP AUTH setting plus mailboxes, safe across threads.

    `forbidden`: False, or True / a message to make every InvokeCommand answer
    403 (an empty string gives a 403 with an EMPTY body, as seen for real; the
    grant it lacks is not known for sure: see docs/simulator.md).
    `exchange_role`: False answers each cmdlet 401 "User is not allowed to call
    <cmdlet>" with the text in `error.message` and no details, as Exchange does when
    the app role is there but the Exchange role does not include the cmdlet
    (office-docs-powershell#7970).
    `home_host`: a tenant-specific Exchange host ("tenant1.outlook.office365.com",
    optionally with ":port"); a request for this tenant that arrives at another host
    is answered `redirect_status` (302) with `Location` on that host, path and query
    kept (ScubaGear `EXORestHelper.psm1`: "some tenants get redirected").
    """

    def __init__(
        self,
        tenant_id: str,
        initial_domain: str,
        org_smtp_auth_disabled: bool | None = True,
    ) -> None:
        self.tenant_id = tenant_id.lower()
        self.initial_domain = initial_domain.lower()
        self.org_smtp_auth_disabled = org_smtp_auth_disabled
        self.org_when_changed: float | None = None
        self.forbidden: bool | str = False
        self.exchange_role = True
        self.home_host: str | None = None
        self.redirect_status = 302
        self.premium = True  # Entra ID P1: False makes Graph refuse its sign-in logs (403)
        # Get-AuthenticationPolicy / Get-OrganizationConfig's DefaultAuthenticationPolicy.
        self.auth_policies = AuthPolicies()
        self._lock = threading.RLock()
        self._guids = bytearray()
        self._edoids = bytearray()
        self._settings = bytearray()
        self._addresses: list[str] = []
        self._display_names: list[str] = []
        self._by_address: dict[str, int] = {}
        self._aliases: dict[int, tuple[str, ...]] = {}  # sparse: only add_mailbox
        self._changed: dict[int, float] = {}  # sparse: only mailboxes Set-* touched
        # Remediation realism: a Set-CASMailbox that "succeeds" without effect, and
        # replication lag (the next N single reads after a change still show the old value).
        self.stale_reads_after_set = 0
        self._stuck: set[int] = set()
        self._stale: dict[int, tuple[int, int]] = {}  # index -> (old code, reads left)
        self._org_stale: tuple[bool | None, int] | None = None

    # -- derived names -----------------------------------------------------

    @property
    def routing_domain(self) -> str:
        """`<name>.mail.onmicrosoft.com`, the domain of each mailbox's routing alias."""
        name = self.initial_domain.removesuffix(".onmicrosoft.com").split(".")[0]
        return f"{name}.mail.onmicrosoft.com"

    def routing_address(self, primary: str) -> str:
        return f"{primary.split('@', 1)[0]}@{self.routing_domain}"

    # -- creating mailboxes ------------------------------------------------

    def seed(
        self,
        count: int,
        *,
        overrides: Mapping[int, bool | None] | None = None,
        seed: int = 0,
        prefix: str = "user",
    ) -> None:
        """Append `count` deterministic mailboxes `<prefix>00000@<initial domain>` ...

        `overrides` maps the 0-based number in this batch (42 -> user00042) to
        its SmtpClientAuthenticationDisabled; every other one is None.
        """
        if count < 0:
            raise ValueError("count must be >= 0")
        overrides = dict(overrides or {})
        bad = [i for i in overrides if not 0 <= i < count]
        if bad:
            raise ValueError(f"override numbers out of range: {bad[:5]}")
        # Seeded per tenant and prefix so two tenants never share GUIDs.
        rng = random.Random(f"{self.tenant_id}|{prefix}|{seed}")
        width = max(5, len(str(max(count - 1, 0))))
        title = prefix[:1].upper() + prefix[1:]
        addresses = [f"{prefix}{i:0{width}d}@{self.initial_domain}" for i in range(count)]
        guids = _uuid4_bytes(rng, count)
        edoids = _uuid4_bytes(rng, count)
        settings = bytearray(count)
        for i, value in overrides.items():
            settings[i] = _ENCODE[value]
        with self._lock:
            start = len(self._addresses)
            keys: list[str] = []
            for offset, address in enumerate(addresses):
                key = address.lower()
                if key in self._by_address:
                    raise ValueError(f"address already exists: {address}")
                # Keep one string object when the address is already lower case.
                if key == address:
                    addresses[offset] = key
                keys.append(key)
            self._by_address.update(zip(keys, range(start, start + count), strict=True))
            self._addresses.extend(addresses)
            self._display_names.extend(f"{title} {i:0{width}d}" for i in range(count))
            self._guids += guids
            self._edoids += edoids
            self._settings += settings

    def add_mailbox(
        self,
        address: str,
        display_name: str | None = None,
        smtp_auth_disabled: bool | None = None,
        guid: str | None = None,
        *,
        external_directory_object_id: str | None = None,
        aliases: Sequence[str] = (),
    ) -> SimMailbox:
        """Add one mailbox; `aliases` are extra smtp: addresses it answers to."""
        if "@" not in address:
            raise ValueError(f"not an address: {address!r}")
        guid_raw = uuid.UUID(guid).bytes if guid else uuid.uuid4().bytes
        edoid_raw = (
            uuid.UUID(external_directory_object_id).bytes
            if external_directory_object_id
            else uuid.uuid4().bytes
        )
        alias_list = tuple(aliases)
        with self._lock:
            keys = [a.lower() for a in (address, *alias_list)]
            routing = self.routing_address(address).lower()
            for key in keys:
                if key in self._by_address:
                    raise ValueError(f"address already exists: {key}")
            if _find16(self._guids, guid_raw) is not None:
                raise ValueError(f"guid already exists: {guid}")
            index = len(self._addresses)
            for key in keys:
                self._by_address[key] = index
            # The routing alias is only indexed if no one else owns it.
            self._by_address.setdefault(routing, index)
            self._addresses.append(address)
            self._display_names.append(display_name or address.split("@", 1)[0])
            self._guids += guid_raw
            self._edoids += edoid_raw
            self._settings.append(_ENCODE[smtp_auth_disabled])
            if alias_list:
                self._aliases[index] = alias_list
            return self._snapshot(index)

    # -- reading -----------------------------------------------------------

    def __len__(self) -> int:
        return len(self._addresses)

    def _snapshot(self, index: int) -> SimMailbox:
        return SimMailbox(
            index=index,
            guid=_guid_text(self._guids, index),
            primary_smtp_address=self._addresses[index],
            display_name=self._display_names[index],
            smtp_auth_disabled=_DECODE[self._settings[index]],
            external_directory_object_id=_guid_text(self._edoids, index),
            aliases=self._aliases.get(index, ()),
            when_changed=self._changed.get(index),
        )

    def _index_of(self, identity: str) -> int | None:
        text = identity.strip()
        if text[:5].lower() == "smtp:":
            text = text[5:]
        raw = _parse_guid(text)
        if raw is not None:
            # Exchange accepts both the mailbox Guid and the Entra object id.
            found = _find16(self._guids, raw)
            return found if found is not None else _find16(self._edoids, raw)
        key = text.lower()
        found = self._by_address.get(key)
        if found is None and key.endswith("@" + self.routing_domain):
            # Seeded mailboxes' routing alias is derived, not indexed.
            found = self._by_address.get(f"{key.split('@', 1)[0]}@{self.initial_domain}")
        return found

    def mailbox(self, identity: str) -> SimMailbox | None:
        """Look up by Guid, ExternalDirectoryObjectId or any address (case-insensitive)."""
        with self._lock:
            index = self._index_of(identity)
            return None if index is None else self._snapshot(index)

    def mailbox_at(self, index: int) -> SimMailbox:
        with self._lock:
            return self._snapshot(index)

    def rows(self, start: int, stop: int) -> list[SimMailbox]:
        """Snapshots of mailboxes [start, stop) in their stable listing order."""
        with self._lock:
            stop = min(stop, len(self._addresses))
            return [self._snapshot(i) for i in range(max(start, 0), stop)]

    def mailboxes(self) -> Iterator[SimMailbox]:
        """Every mailbox, in listing order (snapshots, taken in chunks)."""
        for start in range(0, len(self), 1000):
            yield from self.rows(start, start + 1000)

    def count_by_setting(self) -> dict[bool | None, int]:
        """How many mailboxes have True / False / None, e.g. {None: 99995, False: 5}."""
        with self._lock:
            return {
                value: self._settings.count(code)
                for value, code in _ENCODE.items()
                if self._settings.count(code)
            }

    def overrides(self) -> dict[str, bool]:
        """Primary address -> value for every mailbox whose value is not None."""
        with self._lock:
            return {self._addresses[i]: bool(_DECODE[code]) for i, code in enumerate(self._settings) if code}

    # -- changing ------------------------------------------------------------

    def set_override(self, identity: str, value: bool | None) -> SimMailbox:
        """Set one mailbox's SmtpClientAuthenticationDisabled; KeyError if unknown."""
        with self._lock:
            index = self._index_of(identity)
            if index is None:
                raise KeyError(identity)
            self._set_index(index, value)
            return self._snapshot(index)

    def apply_setting(self, identity: str, value: bool | None) -> tuple[SimMailbox, bool] | None:
        """Set-CASMailbox semantics: (snapshot, changed?) or None when not found."""
        with self._lock:
            index = self._index_of(identity)
            if index is None:
                return None
            if index in self._stuck:
                return self._snapshot(index), True  # claims success, changes nothing
            old = self._settings[index]
            changed = self._set_index(index, value)
            if changed and self.stale_reads_after_set:
                self._stale[index] = (old, self.stale_reads_after_set)
            return self._snapshot(index), changed

    def make_stuck(self, identity: str) -> None:
        """Set-CASMailbox on this mailbox will answer success and change nothing."""
        with self._lock:
            index = self._index_of(identity)
            if index is None:
                raise KeyError(identity)
            self._stuck.add(index)

    def read_mailbox(self, identity: str) -> SimMailbox | None:
        """A single Get-CASMailbox read, as replication lag may show it."""
        with self._lock:
            index = self._index_of(identity)
            if index is None:
                return None
            snap = self._snapshot(index)
            stale = self._stale.get(index)
            if stale is None:
                return snap
            old, left = stale
            if left <= 1:
                del self._stale[index]
            else:
                self._stale[index] = (old, left - 1)
            return replace(snap, smtp_auth_disabled=_DECODE[old])

    def read_org_setting(self) -> bool | None:
        """Get-TransportConfig's value, as replication lag may show it."""
        with self._lock:
            if self._org_stale is None:
                return self.org_smtp_auth_disabled
            old, left = self._org_stale
            self._org_stale = None if left <= 1 else (old, left - 1)
            return old

    def _set_index(self, index: int, value: bool | None) -> bool:
        code = _ENCODE[value]
        if self._settings[index] == code:
            return False
        self._settings[index] = code
        self._changed[index] = time.time()
        return True

    def set_org_setting(self, value: bool | None, *, via_cmdlet: bool = False) -> bool:
        """Set-TransportConfig semantics; returns whether anything changed."""
        with self._lock:
            if self.org_smtp_auth_disabled is value:
                return False
            if via_cmdlet and self.stale_reads_after_set:
                self._org_stale = (self.org_smtp_auth_disabled, self.stale_reads_after_set)
            self.org_smtp_auth_disabled = value
            self.org_when_changed = time.time()
            return True

    def __repr__(self) -> str:
        return f"SimTenant({self.tenant_id!r}, {self.initial_domain!r}, mailboxes={len(self)})"

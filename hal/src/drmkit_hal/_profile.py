"""CDM profiles: what a real OCDM library and the CDMs behind it support and get wrong, as data.

A *library profile* describes one OCDM client library (drmkit's reference CDM, Thunder's
``libClientOCDM.so`` R5.3, a vendor's ``libocdm.so``): the return-code quirks of its C functions,
how it reports "no error yet", and one *CDM profile* per key system it hosts: the decrypt entry
point that keeps subsample maps, the schemes, init-data types and session types the CDM really
handles, how many keys one licence may carry, which keys it cannot use, and whether it has the
OCDM extension interface. The HAL consults the profile on every call it affects; plugins read it
from ``SystemContext.profile`` and adapt (``docs/platforms.md``).

Profiles are TOML files: the built-in ones live in ``drmkit_hal/profiles/``; integrators add their
own with ``HalConfig.profile_paths`` (tried first) or force one with ``HalConfig.profile``.
"""

from __future__ import annotations

import fnmatch
import os
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ._types import DecryptVariant, EncryptionScheme, LicenseType
from .errors import HalError

#: Return-code quirks of real OCDM builds the HAL knows how to decode (``docs/hal.md``).
KNOWN_QUIRKS = frozenset({"inverted_load", "inverted_remove"})
KNOWN_OPERATIONS = frozenset({"remove", "load"})
"""Session operations a profile can mark as not implemented by the CDM."""
#: Name of the profile used for a library no profile matches.
GENERIC_PROFILE = "generic"

_SCHEMES = {s.name.lower(): s for s in EncryptionScheme}
_LICENSE_TYPES = {
    "temporary": LicenseType.TEMPORARY,
    "persistent-usage-record": LicenseType.PERSISTENT_USAGE_RECORD,
    "persistent-license": LicenseType.PERSISTENT_LICENSE,
}
_LICENSE_TYPE_NAMES = {v: k for k, v in _LICENSE_TYPES.items()}


class ProfileError(HalError):
    """A profile file is malformed, or a named profile does not exist."""


@dataclass(frozen=True)
class CdmProfile:
    """One CDM (the implementation of one or more key systems behind a library).

    ``None`` for a capability means "not restricted by the profile": the key-system plugin's own
    declaration stands.

    Attributes:
        name: the profile's name (e.g. ``ocdm-clearkey-r5.3``).
        library: the name of the library profile it belongs to.
        description: one line for humans.
        key_systems: the key systems it serves; ``"*"`` matches any.
        decrypt_variant: the decrypt entry point that is correct on this CDM.
        decrypt_v2_sample_info: whether ``opencdm_session_decrypt_v2`` hands the CDM the whole
            ``SampleInfo`` (subsample map and pattern); ``False``: a ``v2`` decrypt that needs
            either is refused rather than done wrong.
        encryption_schemes: the schemes the CDM decrypts correctly.
        init_data_types: the init-data types the CDM parses correctly in every case.
        license_types: the session (licence) types the CDM supports.
        max_keys_per_license: the most keys one licence may carry.
        unusable_key_bytes: key bytes the CDM mishandles (a key holding one is refused).
        unsupported_operations: session operations the CDM does not implement (``remove``,
            ``load``): refused as not supported instead of failing inside the CDM.
        extension_interface: whether sessions have the OCDM extension interface (``None``:
            unknown, the plugin decides).
        unset_system_error: the value ``opencdm_session_system_error`` returns before any error
            (read as 0).
        quirks: return-code quirks of the library (``inverted_load``, ``inverted_remove``).
        notes: what the profile knows about the CDM, for ``docs`` and ``drmkit plugins``.

    """

    name: str
    library: str = GENERIC_PROFILE
    description: str = ""
    key_systems: tuple[str, ...] = ("*",)
    decrypt_variant: DecryptVariant = DecryptVariant.TEN_ARG
    decrypt_v2_sample_info: bool | None = None
    encryption_schemes: frozenset[EncryptionScheme] | None = None
    init_data_types: frozenset[str] | None = None
    license_types: frozenset[LicenseType] | None = None
    max_keys_per_license: int | None = None
    unusable_key_bytes: frozenset[int] = frozenset()
    unsupported_operations: frozenset[str] = frozenset()
    extension_interface: bool | None = None
    unset_system_error: int | None = None
    quirks: frozenset[str] = frozenset()
    notes: tuple[str, ...] = ()

    def serves(self, key_system: str) -> bool:
        """Tell whether this profile describes ``key_system``."""
        return any(fnmatch.fnmatchcase(key_system, pattern) for pattern in self.key_systems)

    def supports_scheme(self, scheme: EncryptionScheme | int) -> bool:
        """Tell whether the CDM decrypts ``scheme`` correctly."""
        return self.encryption_schemes is None or scheme in self.encryption_schemes

    def parses_init_data_type(self, init_data_type: str) -> bool:
        """Tell whether the CDM parses ``init_data_type`` correctly."""
        return self.init_data_types is None or init_data_type in self.init_data_types

    def supports_license_type(self, license_type: LicenseType | int) -> bool:
        """Tell whether the CDM supports sessions of ``license_type``."""
        return self.license_types is None or license_type in self.license_types

    def supports_operation(self, operation: str) -> bool:
        """Tell whether the CDM implements the session operation ``operation``."""
        return operation not in self.unsupported_operations

    def unusable_key_reason(self, key: bytes) -> str | None:
        """Return why the CDM cannot use ``key`` (``None`` when it can)."""
        bad = sorted(self.unusable_key_bytes.intersection(key))
        if not bad:
            return None
        listed = ", ".join(f"0x{b:02x}" for b in bad)
        return f"the key holds byte {listed}, which the {self.name} CDM mishandles"

    def random_key(self, size: int = 16) -> bytes:
        """Return a random key the CDM can use (redrawn while it holds an unusable byte)."""
        while True:
            key = os.urandom(size)
            if self.unusable_key_reason(key) is None:
                return key

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly description (``drmkit plugins --json``)."""
        return {
            "name": self.name,
            "library": self.library,
            "description": self.description,
            "key_systems": list(self.key_systems),
            "decrypt_variant": self.decrypt_variant.value,
            "decrypt_v2_sample_info": self.decrypt_v2_sample_info,
            "encryption_schemes": _names(self.encryption_schemes, lambda s: s.name.lower()),
            "init_data_types": None
            if self.init_data_types is None
            else sorted(self.init_data_types),
            "license_types": _names(self.license_types, _LICENSE_TYPE_NAMES.__getitem__),
            "max_keys_per_license": self.max_keys_per_license,
            "unusable_key_bytes": sorted(self.unusable_key_bytes),
            "unsupported_operations": sorted(self.unsupported_operations),
            "extension_interface": self.extension_interface,
            "unset_system_error": self.unset_system_error,
            "quirks": sorted(self.quirks),
            "notes": list(self.notes),
        }


def _names(values: Iterable[Any] | None, name: Any) -> list[str] | None:
    return None if values is None else sorted(name(v) for v in values)


@dataclass(frozen=True)
class LibraryProfile:
    """One OCDM library and the CDMs behind it.

    ``library_names`` are ``fnmatch`` patterns of the library's file name; a profile whose
    ``reference`` flag is set matches drmkit's reference CDM (recognised by its control symbols).
    ``cdms`` are tried in order; the first serving a key system wins.
    """

    name: str
    description: str = ""
    library_names: tuple[str, ...] = ()
    reference: bool = False
    cdms: tuple[CdmProfile, ...] = ()
    source: str = "built-in"
    _default: CdmProfile = field(default=CdmProfile(GENERIC_PROFILE), repr=False)

    def matches(self, library_path: str, is_reference: bool) -> bool:
        """Tell whether this profile describes the library at ``library_path``."""
        if self.reference:
            return is_reference
        name = Path(library_path).name
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.library_names)

    def cdm(self, key_system: str) -> CdmProfile:
        """Return the profile of the CDM serving ``key_system`` (the library's default if none)."""
        for cdm in self.cdms:
            if cdm.serves(key_system):
                return cdm
        return self._default

    @property
    def default(self) -> CdmProfile:
        """The CDM profile used for key systems no ``[[cdm]]`` table names."""
        return self._default


# ---- TOML -----------------------------------------------------------------------------------

_LIBRARY_KEYS = {"name", "description", "library_names", "reference", "cdm", "defaults"}
_CDM_KEYS = {
    "name",
    "description",
    "key_systems",
    "decrypt_variant",
    "decrypt_v2_sample_info",
    "encryption_schemes",
    "init_data_types",
    "license_types",
    "max_keys_per_license",
    "unusable_key_bytes",
    "unsupported_operations",
    "extension_interface",
    "unset_system_error",
    "quirks",
    "notes",
}


def _check_keys(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ProfileError(f"{where}: unknown keys {unknown} (allowed: {sorted(allowed)})")


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProfileError(f"{where} must be a list of strings")
    return tuple(value)


def _cdm_fields(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Translate a ``[[cdm]]`` (or ``[defaults]``) table into ``CdmProfile`` field values."""
    _check_keys(table, _CDM_KEYS, where)
    out: dict[str, Any] = {}
    for key, value in table.items():
        here = f"{where}.{key}"
        if key in ("name", "description"):
            if not isinstance(value, str):
                raise ProfileError(f"{here} must be a string")
            out[key] = value
        elif key in ("key_systems", "notes"):
            out[key] = _strings(value, here)
        elif key == "decrypt_variant":
            try:
                variant = DecryptVariant(value)
            except ValueError:
                raise ProfileError(f"{here}: unknown decrypt variant {value!r}") from None
            if variant is DecryptVariant.AUTO:
                raise ProfileError(f"{here}: a profile names a concrete variant, not 'auto'")
            out[key] = variant
        elif key == "encryption_schemes":
            out[key] = frozenset(_lookup(_SCHEMES, v, here) for v in _strings(value, here))
        elif key == "init_data_types":
            out[key] = frozenset(_strings(value, here))
        elif key == "license_types":
            out[key] = frozenset(_lookup(_LICENSE_TYPES, v, here) for v in _strings(value, here))
        elif key == "max_keys_per_license":
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ProfileError(f"{here} must be a positive integer")
            out[key] = value
        elif key == "unusable_key_bytes":
            if not isinstance(value, list) or not all(
                isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 255 for b in value
            ):
                raise ProfileError(f"{here} must be a list of byte values 0..255")
            out[key] = frozenset(value)
        elif key == "unsupported_operations":
            operations = frozenset(_strings(value, here))
            unknown = operations - KNOWN_OPERATIONS
            if unknown:
                raise ProfileError(
                    f"{here}: unknown operations {sorted(unknown)}"
                    f" (known: {sorted(KNOWN_OPERATIONS)})"
                )
            out[key] = operations
        elif key in ("extension_interface", "decrypt_v2_sample_info"):
            if not isinstance(value, bool):
                raise ProfileError(f"{here} must be true or false")
            out[key] = value
        elif key == "unset_system_error":
            if (
                not isinstance(value, int)
                or isinstance(value, bool)
                or not 0 <= value <= 0xFFFFFFFF
            ):
                raise ProfileError(f"{here} must be a 32-bit unsigned integer")
            out[key] = value
        elif key == "quirks":
            quirks = frozenset(_strings(value, here))
            unknown = quirks - KNOWN_QUIRKS
            if unknown:
                raise ProfileError(f"{here}: unknown quirks {sorted(unknown)}")
            out[key] = quirks
    return out


def _lookup(table: Mapping[str, Any], name: str, where: str) -> Any:
    try:
        return table[name]
    except KeyError:
        raise ProfileError(f"{where}: unknown value {name!r} (one of {sorted(table)})") from None


def parse_profile(document: Mapping[str, Any], source: str) -> LibraryProfile:
    """Build a ``LibraryProfile`` from a parsed TOML document (``ProfileError`` if malformed).

    Layout: top-level ``name``, ``description``, ``library_names`` (file-name patterns) or
    ``reference = true``; a ``[defaults]`` table with CDM fields every ``[[cdm]]`` inherits;
    ``[[cdm]]`` tables, each with a ``name`` and ``key_systems``.
    """
    _check_keys(document, _LIBRARY_KEYS, source)
    name = document.get("name")
    if not isinstance(name, str) or not name:
        raise ProfileError(f"{source}: a profile needs a name")
    reference = document.get("reference", False)
    if not isinstance(reference, bool):
        raise ProfileError(f"{source}: reference must be true or false")
    library_names = _strings(document.get("library_names", []), f"{source}: library_names")
    if not reference and not library_names:
        raise ProfileError(f"{source}: a profile needs library_names or reference = true")
    description = document.get("description", "")
    if not isinstance(description, str):
        raise ProfileError(f"{source}: description must be a string")
    defaults_table = document.get("defaults", {})
    if not isinstance(defaults_table, dict):
        raise ProfileError(f"{source}: [defaults] must be a table")
    defaults = _cdm_fields(defaults_table, f"{source}: defaults")
    defaults.setdefault("name", name)
    defaults.setdefault("description", description)
    default_cdm = CdmProfile(**{**defaults, "library": name})
    cdms = []
    tables = document.get("cdm", [])
    if not isinstance(tables, list):
        raise ProfileError(f"{source}: cdm must be an array of tables ([[cdm]])")
    for index, table in enumerate(tables):
        where = f"{source}: cdm[{index}]"
        if not isinstance(table, dict):
            raise ProfileError(f"{where} must be a table")
        fields = _cdm_fields(table, where)
        if "name" not in fields or "key_systems" not in fields:
            raise ProfileError(f"{where} needs a name and key_systems")
        cdms.append(replace(default_cdm, **fields))
    return LibraryProfile(
        name=name,
        description=description,
        library_names=library_names,
        reference=reference,
        cdms=tuple(cdms),
        source=source,
        _default=default_cdm,
    )


def load_profile_file(path: Path) -> LibraryProfile:
    """Read one profile file (``ProfileError`` if it is missing or malformed)."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"cannot read CDM profile {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"CDM profile {path} is not valid TOML: {exc}") from exc
    return parse_profile(document, str(path))


@cache
def builtin_profiles() -> tuple[LibraryProfile, ...]:
    """Return the profiles shipped in ``drmkit_hal/profiles`` (sorted by file name)."""
    folder = resources.files("drmkit_hal") / "profiles"
    profiles = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            document = tomllib.loads(entry.read_text(encoding="utf-8"))
            profiles.append(parse_profile(document, f"built-in {entry.name}"))
    return tuple(profiles)


GENERIC = LibraryProfile(
    name=GENERIC_PROFILE,
    description="a library no profile describes: nothing restricted, the safe decrypt path",
    _default=CdmProfile(
        GENERIC_PROFILE,
        description="unknown CDM: capabilities as the plugin declares them",
        notes=(
            "decrypt uses the 10-argument entry point with the subsample map applied by the HAL, "
            "which is correct whether or not the CDM honours decrypt_v2's map",
        ),
    ),
)


def resolve_profile(
    library_path: str,
    is_reference: bool,
    *,
    profile: str | Path = "auto",
    profile_paths: Sequence[Path] = (),
) -> LibraryProfile:
    """Choose the profile of a library.

    Args:
        library_path: the path (or name) the library was loaded from.
        is_reference: whether it is drmkit's reference CDM.
        profile: ``"auto"`` (match by library), the name of a known profile, or a TOML file.
        profile_paths: extra profile files, tried before the built-in ones.

    Raises:
        ProfileError: a named profile is unknown, or a profile file is malformed.

    """
    extra = [load_profile_file(Path(p)) for p in profile_paths]
    known = [*extra, *builtin_profiles()]
    chosen = str(profile)
    if chosen == "auto":
        for candidate in known:
            if candidate.matches(library_path, is_reference):
                return candidate
        return GENERIC
    if chosen == GENERIC_PROFILE:
        return GENERIC
    for candidate in known:
        if candidate.name == chosen:
            return candidate
    path = Path(chosen)
    if path.suffix == ".toml" or path.exists():
        return load_profile_file(path)
    names = sorted({p.name for p in known} | {GENERIC_PROFILE})
    raise ProfileError(f"unknown CDM profile {chosen!r} (known: {', '.join(names)})")

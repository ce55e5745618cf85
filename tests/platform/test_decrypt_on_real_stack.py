"""``drmkit decrypt`` on Thunder's OCDM: the same bytes as the reference CDM, or a clear refusal.

The Clear Key CDM behind Thunder decrypts cenc (and cens) only, and mishandles keys holding a 0x00
byte; drmkit must decrypt what it can byte for byte as the reference CDM does, and refuse the rest
with an error naming the reason: never a wrong file with success.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from drmkit.media import parse
from drmkit.media.testing import check_against_oracle
from drmkit.testing.tools import tool
from drmkit.testing.vectors import ENCRYPTED_VECTORS, Vector, vectors_dir
from platform_support import drmkit

VECTORS = {v.name: v for v in ENCRYPTED_VECTORS}
# Keys free of 0x00, cenc: the real CDM can decrypt these.
DECRYPTABLE = ["spe_encrypted_low", "spe_encrypted_low_cenc", "shaka_dash_clearkey"]
# Under key 00112233...: a key this CDM would use with strlen() length.
ZERO_BYTE_KEY = [
    "generated_ffmpeg_cenc_flat",
    "generated_packager_cenc_v",
    "generated_packager_cbcs_v",
]
# Made here by shaka-packager under a key the CDM can use: (scheme, pattern).
KID, KEY = "0123456789abcdef0123456789abcdef", "11112233445566778899aabbccddeeff"
SCHEMES = {"cenc": None, "cens": (1, 9), "cbc1": None, "cbcs": (1, 9)}


def _decrypt(env: dict[str, str], vector: Vector, out: Path):  # type: ignore[no-untyped-def]
    keys = [a for k, v in vector.key_map().items() for a in ("--key", f"{k.hex()}:{v.hex()}")]
    return drmkit(env, "decrypt", *map(str, vector.paths()), "-o", str(out), *keys)


@pytest.mark.parametrize("name", DECRYPTABLE)
def test_decrypt_is_byte_identical_to_the_reference_cdm(
    name: str, stack_env: dict[str, str], reference_env: dict[str, str], tmp_path: Path
) -> None:
    vector = VECTORS[name]
    real, reference = tmp_path / "real.mp4", tmp_path / "reference.mp4"
    result = _decrypt(stack_env, vector, real)
    assert result.returncode == 0, result.stderr
    result = _decrypt(reference_env, vector, reference)
    assert result.returncode == 0, result.stderr
    assert real.read_bytes() == reference.read_bytes()
    clear = real.read_bytes()
    check_against_oracle(clear, parse(clear), vector.oracle())


@pytest.mark.parametrize("name", ZERO_BYTE_KEY)
def test_a_key_the_cdm_mishandles_is_refused(
    name: str, stack_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "clear.mp4"
    result = _decrypt(stack_env, VECTORS[name], out)
    assert result.returncode != 0, result.stdout
    assert "0x00" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The clear test source encrypted with each scheme (video track), by shaka-packager."""
    packager, source = tool("packager"), vectors_dir() / "generated" / "clear_testsrc.mp4"
    root = tmp_path_factory.mktemp("packaged")
    files = {}
    for scheme, pattern in SCHEMES.items():
        files[scheme] = root / f"{scheme}.mp4"
        command = [
            packager,
            f"in={source},stream=video,output={files[scheme]}",
            "--enable_raw_key_encryption",
            "--keys", f"label=:key_id={KID}:key={KEY}",
            "--protection_scheme", scheme,
            "--clear_lead", "0",
        ]  # fmt: skip
        if pattern is not None:
            command += ["--crypt_byte_block", str(pattern[0]), "--skip_byte_block", str(pattern[1])]
        subprocess.run(command, check=True, capture_output=True, timeout=60)
    return files


def _decrypt_file(env: dict[str, str], source: Path, out: Path):  # type: ignore[no-untyped-def]
    return drmkit(env, "decrypt", str(source), "-o", str(out), "--key", f"{KID}:{KEY}")


@pytest.mark.parametrize("scheme", ["cenc", "cens"])
def test_ctr_schemes_match_the_reference_cdm(
    scheme: str,
    packaged: dict[str, Path],
    stack_env: dict[str, str],
    reference_env: dict[str, str],
    tmp_path: Path,
) -> None:
    real, reference = tmp_path / "real.mp4", tmp_path / "reference.mp4"
    assert _decrypt_file(stack_env, packaged[scheme], real).returncode == 0
    assert _decrypt_file(reference_env, packaged[scheme], reference).returncode == 0
    assert real.read_bytes() == reference.read_bytes()
    assert parse(real.read_bytes()).protected_samples() == 0


@pytest.mark.parametrize("scheme", ["cbc1", "cbcs"])
def test_cbc_schemes_are_refused_not_decrypted_wrong(
    scheme: str,
    packaged: dict[str, Path],
    stack_env: dict[str, str],
    reference_env: dict[str, str],
    tmp_path: Path,
) -> None:
    out = tmp_path / "real.mp4"
    result = _decrypt_file(stack_env, packaged[scheme], out)
    assert result.returncode != 0, result.stdout
    assert scheme in result.stderr
    assert not out.exists()
    # The same file decrypts on the reference CDM: the refusal is the CDM's limit, not the file.
    assert _decrypt_file(reference_env, packaged[scheme], tmp_path / "ref.mp4").returncode == 0

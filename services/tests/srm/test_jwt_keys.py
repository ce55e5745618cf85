"""JWT verification keys below RFC 7518's minimum are refused at start-up, naming the setting."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from drmkit.settings import Settings
from drmkit.srm.auth import JwtVerifier
from drmkit.srm.bootstrap import verifier_from_settings
from drmkit.srm.config import SrmSettings
from drmkit.srm.devservers import free_port
from drmkit.srm.stores import open_store

from .conftest import drmkit_executable


@pytest.mark.parametrize(("algorithm", "minimum"), [("HS256", 32), ("HS384", 48), ("HS512", 64)])
def test_hmac_keys_shorter_than_the_hash_output_are_refused(algorithm: str, minimum: int) -> None:
    with pytest.raises(ValueError, match=rf"{algorithm} key is {minimum - 1} bytes.*RFC 7518"):
        JwtVerifier("k" * (minimum - 1), algorithms=[algorithm])
    JwtVerifier("k" * minimum, algorithms=[algorithm])


def test_the_key_must_suit_every_accepted_algorithm() -> None:
    with pytest.raises(ValueError, match="HS512 key is 32 bytes"):
        JwtVerifier("k" * 32, algorithms=["HS256", "HS512"])


def test_key_length_counts_bytes_not_characters() -> None:
    with pytest.raises(ValueError, match="HS256 key is 30 bytes"):
        JwtVerifier("é" * 15, algorithms=["HS256"])  # 15 characters, 30 bytes of UTF-8
    JwtVerifier("é" * 16, algorithms=["HS256"])


def _rsa_public_pem(bits: int) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.mark.parametrize("algorithm", ["RS256", "PS256"])
def test_rsa_keys_below_2048_bits_are_refused(algorithm: str) -> None:
    with pytest.raises(ValueError, match=rf"{algorithm} key has 1024 bits"):
        JwtVerifier(_rsa_public_pem(1024), algorithms=[algorithm])
    JwtVerifier(_rsa_public_pem(2048), algorithms=[algorithm])


STORE = open_store("sqlite:///unused.sqlite3")  # never opened: the JWT verifier does not use it


def _jwt_settings(tmp_path: Path, **srm: object) -> Settings:
    return Settings(state_dir=tmp_path, srm=SrmSettings(token_verifier="jwt", **srm))


def test_start_up_names_the_setting_of_a_short_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^srm\.jwt_key: the HS256 key is 16 bytes"):
        verifier_from_settings(_jwt_settings(tmp_path, jwt_key="sixteen-byte-key"), STORE)
    key_file = tmp_path / "hs256.key"
    key_file.write_bytes(b"sixteen-byte-key")
    with pytest.raises(ValueError, match=r"^srm\.jwt_key_file: the HS256 key is 16 bytes"):
        verifier_from_settings(_jwt_settings(tmp_path, jwt_key_file=key_file), STORE)
    with pytest.raises(ValueError, match=r"^srm\.jwt_key_file: cannot read"):
        verifier_from_settings(
            _jwt_settings(tmp_path, jwt_key_file=tmp_path / "missing.key"),
            STORE,
        )
    with pytest.raises(ValueError, match=r"^srm\.jwt_algorithms: unknown"):
        verifier_from_settings(
            _jwt_settings(tmp_path, jwt_key="k" * 32, jwt_algorithms=["XS999"]),
            STORE,
        )
    assert isinstance(
        verifier_from_settings(_jwt_settings(tmp_path, jwt_key="k" * 32), STORE),
        JwtVerifier,
    )


@pytest.mark.parametrize("source", ["env", "file"])
def test_srm_serve_refuses_a_short_hs256_key(tmp_path: Path, source: str) -> None:
    """``drmkit srm serve`` exits with a configuration error instead of serving."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRMKIT_")}
    env |= {
        "DRMKIT_STATE_DIR": str(tmp_path),
        "DRMKIT_SRM__TOKEN_VERIFIER": "jwt",
        "DRMKIT_SRM__JWT_ALGORITHMS": '["HS256"]',
    }
    if source == "env":
        env["DRMKIT_SRM__JWT_KEY"] = "password123"
        setting = "srm.jwt_key"
    else:
        key_file = tmp_path / "hs256.key"
        key_file.write_text("password123")
        env["DRMKIT_SRM__JWT_KEY_FILE"] = str(key_file)
        setting = "srm.jwt_key_file"
    result = subprocess.run(
        [drmkit_executable(), "srm", "serve", "--port", str(free_port())],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    message = " ".join((result.stdout + result.stderr).split())  # undo the console's wrapping
    assert f"{setting}: the HS256 key is 11 bytes" in message, message
    assert "RFC 7518 §3.2 requires at least 32" in message, message

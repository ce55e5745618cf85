"""The shipped profile of Thunder's OCDM-Clearkey is what the CDM really does: ``drmkit cdm probe``
measures it with known answers and must find nothing the profile gets wrong."""

from __future__ import annotations

from platform_support import drmkit, drmkit_json


def test_probes_agree_with_the_shipped_profile(stack_env: dict[str, str]) -> None:
    document = drmkit_json(stack_env, "cdm", "probe")
    assert document["disagreements"] == []
    report = document["report"]
    assert isinstance(report, dict)
    assert report["cdm_profile"] == "ocdm-clearkey-r5.3"
    # The facts behind the profile, as measured (docs/platforms.md lists each with its cause).
    assert report["decrypt_v2_sample_info"] is False
    assert report["encryption_schemes"] == ["clear", "cenc", "cens"]
    assert report["init_data_types"] == ["cenc"]
    assert report["multi_key_license"] is False
    assert report["unset_system_error"] == 0xFFFFFFFF


def test_plugins_report_the_capabilities_of_the_loaded_cdm(stack_env: dict[str, str]) -> None:
    document = drmkit_json(stack_env, "plugins")
    assert document["hal"]["profile"] == "thunder-r5.3"  # type: ignore[index]
    (clearkey,) = [
        ks
        for plugin in document["plugins"]  # type: ignore[union-attr]
        for ks in plugin["key_systems"]
        if ks["key_system"] == "org.w3.clearkey"
    ]
    assert clearkey["cdm"] == "ocdm-clearkey-r5.3"
    assert clearkey["capabilities"]["encryption_schemes"] == ["cenc", "cens"]
    assert clearkey["capabilities"]["session_types"] == ["temporary"]
    assert "cbcs" in clearkey["declared_capabilities"]["encryption_schemes"]
    assert drmkit(stack_env, "cdm", "profile", "org.w3.clearkey").returncode == 0

"""The image model: odd metadata is kept as text, never fatal."""

from __future__ import annotations

from explorer.core.image import ImageMeta, parse_config, text_of


def config(history: list) -> dict:
    return {"rootfs": {"type": "layers", "diff_ids": ["sha256:a", "sha256:b"]}, "history": history}


def test_odd_history_values_are_kept_as_text():
    """A number, a list or an object where text belongs: its JSON, never a crash."""
    _, history = parse_config(
        config(
            [
                {"created": 99999999999999999999, "created_by": ["/bin/sh", "-c", "ls"]},
                {"created": "²", "created_by": 5, "comment": {"by": "me"}},
                {"created": None, "created_by": "ENV A=1", "empty_layer": True},
            ]
        ),
        "config",
    )
    assert [(h.created, h.created_by, h.comment, h.layer) for h in history] == [
        ("99999999999999999999", '["/bin/sh", "-c", "ls"]', "", 0),
        ("²", "5", '{"by": "me"}', 1),
        ("", "ENV A=1", "", None),
    ]


def test_odd_platform_values_are_shown_as_text():
    meta = ImageMeta("x", "oci", [], [], {"os": 5, "architecture": ["arm"], "variant": None})
    assert meta.platform == '5/["arm"]'
    assert ImageMeta("x", "oci", [], [], {"os": "linux", "architecture": ""}).platform == "linux"
    assert text_of(float("nan")) == "NaN"

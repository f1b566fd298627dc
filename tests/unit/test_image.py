"""The image model: history entries, odd metadata, and how history and layers match up."""

from __future__ import annotations

from explorer.core.image import (
    HistoryEntry,
    ImageMeta,
    LayerMeta,
    Step,
    parse_config,
    steps,
    text_of,
)


def entry(created_by: str, comment: str = "", layer: int | None = 0) -> HistoryEntry:
    return HistoryEntry(created_by, "", layer is None, layer, comment)


def test_instruction_forms():
    def short(created_by: str, comment: str = "") -> str:
        return entry(created_by, comment).short_instruction

    assert short("/bin/sh -c echo hi") == "RUN echo hi"
    assert short("/bin/sh -c #(nop)  ENV A=b") == "ENV A=b"
    # the classic builder's RUN with build args
    assert short("|1 NOTE=x /bin/sh -c dd if=/dev/zero") == "RUN dd if=/dev/zero"
    assert short("RUN |2 A=1 B=2 /bin/sh -c make") == "RUN make"
    assert entry("RUN |2 A=1 B=2 /bin/sh -c make").instruction == "RUN |2 A=1 B=2 /bin/sh -c make"
    # `docker import`: no command, a comment
    assert short("", "Imported from -") == "Imported from -"
    assert short("") == "(no command recorded)"


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


def test_steps_match_history_and_layers():
    """History order, metadata-only steps between layers, a build-args RUN shortened with its
    full command kept."""
    history = [
        entry("/bin/sh -c #(nop) ADD file:x in / ", layer=0),
        entry("/bin/sh -c #(nop)  ENV A=1", layer=None),
        entry("|1 A=1 /bin/sh -c make", layer=1),
    ]
    meta = ImageMeta(
        "x", "docker-archive", [LayerMeta(0, "a", "", ""), LayerMeta(1, "b", "", "")], history
    )
    assert steps(meta) == [
        Step(0, "ADD file:x in /", ""),
        Step(None, "ENV A=1", ""),
        Step(1, "RUN make", "", "|1 A=1 /bin/sh -c make"),
    ]


def test_layers_the_history_misses_keep_their_own_command_in_place():
    meta = ImageMeta(
        "x",
        "docker-archive",
        [LayerMeta(0, "a", "", "one"), LayerMeta(1, "b", "", "two"), LayerMeta(2, "c", "", "")],
        [entry("/bin/sh -c #(nop)  ENV A=1", layer=None), entry("/bin/sh -c three", layer=2)],
    )
    assert [(s.layer, s.instruction) for s in steps(meta)] == [
        (None, "ENV A=1"),
        (0, "one"),
        (1, "two"),
        (2, "RUN three"),
    ]

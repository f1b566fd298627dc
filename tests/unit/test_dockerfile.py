"""The Dockerfile reconstructed from an image's history, and the image config view: build
args, BuildKit's records, empty layers, Go renderings, hostile text, secrets masked."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from explorer.core.dockerfile import parse, reconstruct, render, split_build_args
from explorer.core.image import ImageMeta, LayerMeta, parse_config
from explorer.core.imageconfig import config_view, duration, healthcheck
from explorer.core.safetext import safe
from tests.robustness import builders as b

GHP = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Ds0A"


def meta_of(history: list[dict], config: dict | None = None, layers: int | None = None):
    count = sum(1 for h in history if not h.get("empty_layer")) if layers is None else layers
    raw = {
        "os": "linux",
        "architecture": "arm64",
        "variant": "v8",
        "rootfs": {"diff_ids": [f"sha256:{i:064x}" for i in range(count)]},
        "history": history,
        "config": config or {},
    }
    diff_ids, entries = parse_config(raw, "test")
    metas = [LayerMeta(i, f"id{i}", d, f"cmd of layer {i}") for i, d in enumerate(diff_ids)]
    return ImageMeta("test", "docker-archive", metas, entries, raw)


def texts(history: list[dict], **kw) -> list[str]:
    return [line.text for line in reconstruct(meta_of(history, **kw))]


def test_classic_builder_records_become_instructions():
    history = [
        {"created_by": "/bin/sh -c #(nop) ADD file:" + "ab" * 32 + " in / "},
        {"created_by": '/bin/sh -c #(nop)  CMD ["bash"]', "empty_layer": True},
        {"created_by": "/bin/sh -c #(nop)  ENV LANG=C.UTF-8", "empty_layer": True},
        {"created_by": "/bin/sh -c apt-get update && apt-get install -y curl"},
        {"created_by": "/bin/sh -c #(nop)  EXPOSE 8080/tcp", "empty_layer": True},
        {"created_by": "/bin/sh -c #(nop) WORKDIR /srv", "empty_layer": True},
    ]
    assert texts(history) == [
        "ADD file:abababababab /",
        'CMD ["bash"]',
        "ENV LANG=C.UTF-8",
        "RUN apt-get update && apt-get install -y curl",
        "EXPOSE 8080/tcp",
        "WORKDIR /srv",
    ]


def test_buildkit_records_lose_their_suffix_and_go_renderings_are_read_back():
    history = [
        {"created_by": "WORKDIR /app", "empty_layer": True},
        {"created_by": "COPY requirements.txt . # buildkit"},
        {"created_by": "RUN /bin/sh -c pip install -r requirements.txt # buildkit"},
        {"created_by": "EXPOSE map[8080/tcp:{} 9090/udp:{}]", "empty_layer": True},
        {
            "created_by": 'HEALTHCHECK &{["CMD-SHELL" "curl -f http://localhost/ || exit 1"] '
            '"30s" "5s" "0s" "0s" \'\\x03\'}',
            "empty_layer": True,
        },
        {"created_by": 'HEALTHCHECK &{["NONE"] "0s" "0s" "0s" "0s" \'\\x00\'}'},
        {"created_by": 'ENTRYPOINT ["python", "-m", "app"]', "empty_layer": True},
    ]
    assert texts(history, layers=3) == [
        "WORKDIR /app",
        "COPY requirements.txt .",
        "RUN pip install -r requirements.txt",
        "EXPOSE 8080/tcp 9090/udp",
        "HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD "
        "curl -f http://localhost/ || exit 1",
        "HEALTHCHECK NONE",
        'ENTRYPOINT ["python", "-m", "app"]',
    ]


def test_build_args_become_arg_lines_once_per_value():
    history = [
        {"created_by": "/bin/sh -c #(nop)  ARG VERSION", "empty_layer": True},
        {"created_by": "|2 VERSION=1.2 NOTE=two words /bin/sh -c echo $VERSION"},
        {"created_by": "|2 VERSION=1.2 NOTE=two words /bin/sh -c make"},
        {"created_by": "RUN |1 VERSION=1.3 /bin/sh -c make install # buildkit"},
    ]
    lines = reconstruct(meta_of(history))
    assert [line.text for line in lines] == [
        "ARG VERSION",
        "ARG VERSION=1.2",
        "ARG NOTE=two words",
        "RUN echo $VERSION",
        "RUN make",
        "ARG VERSION=1.3",
        "RUN make install",
    ]
    derived = [line for line in lines if line.derived]
    assert all(line.layer is None and line.empty for line in derived)
    assert [line.layer for line in lines if line.text.startswith("RUN")] == [0, 1, 2]


def test_split_build_args_edge_cases():
    assert split_build_args("|1 A= /bin/sh -c x") == ([("A", "")], "/bin/sh -c x")
    assert split_build_args("|1 A=b echo hi") == ([("A", "b")], "echo hi")  # exec form
    assert split_build_args("|2 A=b") is None  # fewer args than it says
    assert split_build_args("echo |1 A=b") is None


def test_empty_layers_are_marked_and_entries_without_a_command_say_where_they_came_from():
    history = [
        {"comment": "debootstrap --variant=minbase bookworm"},
        {"created_by": "/bin/sh -c true", "empty_layer": True},
        {"created_by": "/bin/sh -c touch /x"},
    ]
    lines = reconstruct(meta_of(history))
    assert [(ln.text, ln.layer, ln.empty, ln.comment) for ln in lines] == [
        ("# debootstrap --variant=minbase bookworm", 0, False, True),
        ("RUN true", None, True, False),
        ("RUN touch /x", 1, False, False),
    ]


def test_layers_the_history_does_not_describe_keep_their_own_command():
    lines = reconstruct(meta_of([{"created_by": "/bin/sh -c a"}], layers=3))
    assert [(ln.text, ln.layer) for ln in lines] == [
        ("RUN a", 0),
        ("RUN cmd of layer 1", 1),
        ("RUN cmd of layer 2", 2),
    ]


def test_secrets_in_build_args_and_commands_are_masked():
    history = [
        {"created_by": f"|2 GITHUB_TOKEN={GHP} DB_PASSWORD=hunter2hunter2 /bin/sh -c build"},
        {"created_by": f"/bin/sh -c curl -H 'Authorization: token {GHP}' https://x"},
        {"created_by": "/bin/sh -c #(nop)  ENV API_KEY=sk_0123456789abcdefXYZ", "empty_layer": 1},
        {"created_by": "/bin/sh -c git clone https://bob:s3cr3tpassw0rd@example.com/r.git"},
    ]
    out = render(reconstruct(meta_of(history)))
    assert "ARG GITHUB_TOKEN=ghp_…Ds0A" in out
    assert "ARG DB_PASSWORD=hu…" in out
    assert "token ghp_…Ds0A" in out
    assert "ENV API_KEY=sk_0…fXYZ" in out
    assert "https://bob:s3…@example.com" in out
    for secret in (GHP, "hunter2hunter2", "sk_0123456789abcdefXYZ", "s3cr3tpassw0rd"):
        assert secret not in out


def test_hostile_text_is_kept_as_recorded_for_safe_to_escape():
    history = [
        {"created_by": "/bin/sh -c echo \x1b]52;c;aGk=\x07 [bold]x[/bold]"},
        {"created_by": "RUN /bin/sh -c cat <<EOF > /f\nline one\nEOF # buildkit"},
    ]
    lines = reconstruct(meta_of(history))
    assert lines[0].text == "RUN echo \x1b]52;c;aGk=\x07 [bold]x[/bold]"
    assert safe(lines[0].text) == "RUN echo \\x1b]52;c;aGk=\\x07 [bold]x[/bold]"
    assert lines[1].text.split("\n") == ["RUN cat <<EOF > /f", "line one", "EOF"]


@pytest.mark.parametrize(
    "created_by",
    ["", "   ", "|", "|x", "|99999999999999999999 A=b", "#(nop)", "HEALTHCHECK &{[", "RUN"],
)
def test_odd_records_never_raise(created_by):
    text, args = parse(created_by)
    assert isinstance(text, str) and isinstance(args, list)


def test_config_view_masks_secrets_and_names_the_base_image():
    config = {
        "User": "",
        "Env": [f"GITHUB_TOKEN={GHP}", "PATH=/usr/bin", "GPG_KEY=A035C8C19219BA821ECEA86B", "X"],
        "Labels": {
            "org.opencontainers.image.base.name": "docker.io/library/debian:bookworm",
            "registry.password": "pa55word-pa55word",
        },
        "Entrypoint": ["/entry", "--flag"],
        "Cmd": None,
        "ExposedPorts": {"80/tcp": {}, "443/tcp": {}},
        "Volumes": {"/data": {}},
        "Healthcheck": {
            "Test": ["CMD-SHELL", "curl -f http://localhost/"],
            "Interval": 30_000_000_000,
            "Retries": 3,
        },
        "StopSignal": 9,  # an odd type: kept as its JSON text
    }
    view = config_view(meta_of([], config=config, layers=0))
    settings = {s.key: (s.value, s.note) for s in view.settings}
    assert settings["Platform"] == ("linux/arm64/v8", "")
    assert settings["User"] == ("", "root")
    assert settings["WorkingDir"] == ("", "/ (not set)")
    assert settings["Entrypoint"][0] == '["/entry", "--flag"]'
    assert settings["Cmd"][0] == ""
    assert settings["ExposedPorts"][0] == "80/tcp 443/tcp"
    assert settings["Volumes"][0] == "/data"
    assert settings["Healthcheck"][0] == "CMD curl -f http://localhost/ · every 30s · 3 retries"
    assert settings["StopSignal"][0] == "9"
    assert dict(view.env) == {
        "GITHUB_TOKEN": "ghp_…Ds0A",
        "PATH": "/usr/bin",
        "GPG_KEY": "A035C8C19219BA821ECEA86B",  # a fingerprint, not a secret
        "X": "",
    }
    assert dict(view.labels)["registry.password"] == "pa55…word"
    assert view.base == [
        ("org.opencontainers.image.base.name", "docker.io/library/debian:bookworm")
    ]
    assert GHP not in json.dumps(view.to_json())


def test_config_view_of_a_config_of_the_wrong_shape():
    for odd in (None, [], "text", {"Env": "A=1", "Labels": ["x"]}):
        meta = meta_of([], layers=0)
        meta.config["config"] = odd
        view = config_view(meta)
        assert view.settings[0].key == "Platform"


def test_durations():
    assert [duration(n) for n in (0, 500, 5_000_000, 30 * 10**9, 90 * 10**9, 3600 * 10**9)] == [
        "",
        "500ns",
        "5ms",
        "30s",
        "1m30s",
        "1h",
    ]
    assert healthcheck({"Test": ["NONE"]}) == "NONE (disabled)"
    assert healthcheck({"Test": ["CMD", "a", "b"]}) == 'CMD ["a", "b"]'


def test_dockerfile_and_config_commands(tmp_path):
    image = b.Image(
        layers=[b.Layer([b.file("a", b"1")]), b.Layer([b.file("b", b"2")])],
        history=[
            {"created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
            {"created_by": "/bin/sh -c #(nop)  ENV TOKEN=" + GHP, "empty_layer": True},
            {"created_by": "|1 NPM_TOKEN=npm_" + "x" * 36 + " /bin/sh -c echo \x1b[31mred"},
        ],
    )
    path = b.docker_archive(image).write_tar(tmp_path / "image.tar")
    run = [sys.executable, "-m", "explorer"]
    done = subprocess.run([*run, "dockerfile", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "ADD file:abc /\nENV TOKEN=ghp_…Ds0A\nARG NPM_TOKEN=npm_…xxxx\nRUN echo \\x1b[31mred\n"
    )
    done = subprocess.run([*run, "config", str(path), "--json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["env"] == {"PATH": "/usr/bin:/bin"}
    done = subprocess.run([*run, "config", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "User          root" in lines  # not set: the container runs as root
    assert "  PATH=/usr/bin:/bin" in lines
    done = subprocess.run(
        [*run, "dockerfile", str(tmp_path / "missing.tar")], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1 and "missing.tar" in done.stderr

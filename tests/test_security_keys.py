"""Key files: private from the first byte, private folders whatever the umask, checked names, --force replaces."""
from __future__ import annotations

import os
import stat

import pytest
import zmq.auth

from coach.cli import main as cli_main
from overlays import security
from overlays.security import KeyFileError, add_clients, generate_keys


@pytest.fixture()
def open_umask():
    old = os.umask(0)  # the worst case: everything would be world-writable
    yield
    os.umask(old)


def _mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def test_secrets_are_0600_from_the_start_and_folders_0700(tmp_path, open_umask, monkeypatch):
    seen: dict[str, int] = {}
    real_replace = os.replace

    def spy(src, dst):  # the mode of each file at the moment it takes its final name
        seen[os.path.basename(dst)] = _mode(src)
        real_replace(src, dst)

    monkeypatch.setattr(security.os, "replace", spy)
    keys = generate_keys(tmp_path / "k", ("headset",), role="viewer")
    assert seen["server.key_secret"] == 0o600 and seen["headset.key_secret"] == 0o600
    for secret in (keys.server_secret, *keys.client_secrets):
        assert _mode(secret) == 0o600
        public, sec = zmq.auth.load_certificate(str(secret))  # any ZeroMQ binding reads them
        assert len(public) == 40 and len(sec) == 40
    for d in (tmp_path / "k", keys.allowed_dir, keys.allowed_dir / "viewers", tmp_path / "k" / "clients"):
        assert _mode(d) == 0o700, d
    assert not list((tmp_path / "k").rglob("*.tmp"))


@pytest.mark.parametrize("name", ["with space", "", "../up", ".hidden", "server", "x" * 65, "tab\t"])
def test_bad_client_names_are_refused(tmp_path, name):
    with pytest.raises(KeyFileError, match="bad client name"):
        generate_keys(tmp_path / "k", (name,))
    assert not (tmp_path / "k" / "server.key_secret").exists()  # refused before anything is written


def test_duplicates_are_refused_and_force_replaces_the_allow_lists(tmp_path, capsys):
    d = tmp_path / "k"
    with pytest.raises(KeyFileError, match="given twice"):
        generate_keys(d, ("a", "a"))
    first = generate_keys(d, ("old-headset",))
    with pytest.raises(KeyFileError, match="exists"):
        add_clients(d, ("old-headset",), "controller")  # the same name in the other role
    add_clients(d, ("tablet",), "controller")
    assert cli_main(["keys", "add", "--dir", str(d), "--client", "tablet"]) == 2
    assert "exists" in capsys.readouterr().err
    old_server = first.server_public.read_text()
    assert cli_main(["keys", "generate", "--dir", str(d), "--force", "--client", "new-headset"]) == 0
    assert first.server_public.read_text() != old_server
    assert [p.name for p in (d / "allowed" / "viewers").iterdir()] == ["new-headset.key"]
    assert list((d / "allowed" / "controllers").iterdir()) == []  # old controllers lost access too
    assert sorted(p.name for p in (d / "clients").iterdir()) == ["new-headset.key_secret"]


def test_keys_generate_default_makes_one_key_of_each_role(tmp_path, capsys):
    assert cli_main(["keys", "generate", "--dir", str(tmp_path / "k")]) == 0
    out = capsys.readouterr().out
    assert "viewers/ subscribe only" in out
    assert [p.name for p in (tmp_path / "k" / "allowed" / "viewers").iterdir()] == ["viewer.key"]
    assert [p.name for p in (tmp_path / "k" / "allowed" / "controllers").iterdir()] == ["controller.key"]
    assert cli_main(["keys", "generate", "--dir", str(tmp_path / "j"), "--client", "bad name"]) == 2
    assert "bad client name" in capsys.readouterr().err

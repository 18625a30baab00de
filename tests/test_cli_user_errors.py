"""The CLI's one place for user errors: the layers' own errors reach ``main`` and print as one line, exit 2."""
from __future__ import annotations

import importlib

import pytest

from coach.cli import USER_ERRORS, is_user_error, main


@pytest.mark.parametrize("name", sorted(USER_ERRORS))
def test_every_named_user_error_exists(name):
    """A renamed or moved error class would silently turn back into a traceback: each name must resolve."""
    module, cls_name = name.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), cls_name)
    assert issubclass(cls, Exception)
    assert f"{cls.__module__}.{cls.__qualname__}" == name
    assert is_user_error(cls("x"))


def test_subclasses_count_and_built_ins_do_not():
    from models.errors import ModelError

    class Missing(ModelError):
        pass

    assert is_user_error(Missing("gone"))
    assert not is_user_error(ValueError("a bug, not the user's"))
    assert not is_user_error(KeyError("k"))


def test_a_layer_error_is_one_line_and_exit_2(tmp_path, capsys):
    """A missing calibration file: the store's own error, raised inside the command, printed by main()."""
    missing = tmp_path / "nope_station.json"
    rc = main(["analyze", str(tmp_path / "clip.mp4"), "--calibration", str(missing)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("cpr-coach: error: ") and "nope_station.json" in err[0]


def test_a_bug_still_raises(monkeypatch):
    """Anything else keeps its traceback: main() must not hide a bug as a user error."""
    import coach.cli as cli

    def boom(args):
        raise ZeroDivisionError("a bug")

    real = cli.build_parser

    def build():
        p = real()
        sub = next(a for a in p._actions if a.dest == "command")
        sub.choices["analyze-trace"].set_defaults(func=boom)
        return p

    monkeypatch.setattr(cli, "build_parser", build)
    with pytest.raises(ZeroDivisionError):
        main(["analyze-trace", "x.csv", "--json", "out.json"])

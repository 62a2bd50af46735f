"""The Python package against the command line: the same requests give the
same bytes, the same refusals, and sweeps come back as DataFrames whose
figures are those of single runs."""
import json
import os
import sqlite3
import subprocess

import pytest

import ultrasim

CLI = os.environ.get("ULTRASIM_CLI", os.path.join(os.path.dirname(__file__), "..", "..",
                                                  "build", "ultrasim"))


def cli(*args):
    return subprocess.run([CLI, *args], capture_output=True, text=True)


def test_hw_show_counts_an_ultraserver():
    assert ultrasim.run("hw show", name="trn2u.48xlarge")["chips"] == 64
    assert ultrasim.hw("dgx-h100")["chips"] == 8


def test_same_json_as_the_cli_byte_for_byte():
    args = dict(model="llama3-8b", hw="dgx-h100", chips=8, tp=2, gbs=16, seq=4096,
                recompute="full")
    flags = []
    for k, v in args.items():
        flags += ["--" + k.replace("_", "-"), str(v)]
    out = cli("train", *flags, "--json")
    assert out.returncode == 0
    assert ultrasim.run_json("train", **args) + "\n" == out.stdout
    # a flag (True) and a two-word command
    out = cli("hw", "show", "dgx-h100", "--sources", "--json")
    assert ultrasim.run_json("hw show", name="dgx-h100", sources=True) + "\n" == out.stdout


def test_unknown_option_names_it():
    with pytest.raises(ultrasim.Error) as e:
        ultrasim.run("train", modle="llama3-8b", hw="dgx-h100", gbs=8, seq=2048)
    assert e.value.exit_class == "usage or input error"
    assert e.value.status == 2
    assert e.value.field == "modle"
    assert "did you mean '--model'" in str(e.value)


def test_error_carries_file_line_and_field(tmp_path):
    bad = tmp_path / "chip.json"
    bad.write_text('{"kind": "chip", "base": "h100-sxm", "name": "x",\n "power_limit": "900W"}')
    with pytest.raises(ultrasim.Error) as e:
        ultrasim.hw(str(bad))
    assert e.value.file == str(bad)
    assert e.value.line == 2
    assert e.value.field == "power_limit"
    assert "allowed: 1 W to 700 W" in e.value.message
    out = cli("hw", "show", str(bad))
    assert out.returncode == 2
    assert out.stderr.strip() == "ultrasim: " + str(e.value)


def test_sweep_rows_are_single_runs(tmp_path):
    spec = {"command": "collective", "base": {"hw": "dgx-h100", "op": "allreduce"},
            "grid": {"size": ["1MiB", "1GiB"], "algo": ["ring", "tree"]}}
    df = ultrasim.sweep(spec, db=str(tmp_path / "runs.db"))
    assert len(df) == 4
    assert set(df["status"]) == {"ok"}
    one = df[(df["size"] == "1GiB") & (df["algo"] == "ring")].iloc[0]
    alone = ultrasim.run("collective", hw="dgx-h100", op="allreduce", size="1GiB", algo="ring")
    assert one["time_s"] == alone["time_s"]
    again = ultrasim.read_sweep(str(tmp_path / "runs.db"))
    assert list(again["time_s"]) == list(df["time_s"])


def test_read_sweep_has_the_database_columns(tmp_path, monkeypatch):
    # a '?' in the path is part of the name, not a URI query (it made a
    # stray file 'q' and said "no such table")
    folder = tmp_path / "q?x"
    folder.mkdir()
    spec = {"command": "train", "base": {"model": "llama3-8b", "hw": "dgx-h100", "gbs": 64,
                                         "seq": 4096},
            "grid": {"tp": [1, 2]}}
    ultrasim.sweep(spec, db=str(folder / "s.db"))
    monkeypatch.chdir(tmp_path)
    df = ultrasim.read_sweep("q?x/s.db")
    assert not (tmp_path / "q").exists()
    con = sqlite3.connect(str(folder / "s.db"))
    columns = [row[1] for row in con.execute("PRAGMA table_info(points)")]
    con.close()
    assert list(df.columns) == [c for c in columns if c not in ("request", "result")]
    assert "breakdown_tp_comm" in df.columns and "plan_tp" in df.columns


def test_sweep_of_a_dict_names_the_dict(tmp_path):
    spec = {"command": "train", "base": {"model": "llama3-8b", "hw": "dgx-h100", "gbs": 64,
                                         "seq": 4096},
            "grid": {"tpp": [1, 2]}}
    with pytest.raises(ultrasim.Error) as e:
        ultrasim.sweep(spec, db=str(tmp_path / "s.db"))
    assert e.value.file == "<spec dict>"
    assert str(e.value).startswith("the spec dict (as JSON: line 1, column ")
    assert "did you mean '--tp'" in str(e.value)


def test_read_sweep_refuses_what_is_not_one(tmp_path):
    with pytest.raises(ultrasim.Error):
        ultrasim.read_sweep(str(tmp_path / "missing.db"))
    junk = tmp_path / "junk.db"
    junk.write_text("not sqlite")
    with pytest.raises(ultrasim.Error):
        ultrasim.read_sweep(str(junk))

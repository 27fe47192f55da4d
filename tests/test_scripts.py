"""scripts/download_data.sh and the Makefile, run as a user runs them (servers: test_server.py)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, write_trips


def download(dest: Path, url: str, *names: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / "scripts/download_data.sh"), str(dest), *names],
        env={**os.environ, "TAXI_DATA_URL": url},
        capture_output=True,
        text=True,
    )


def test_download_from_file_url_and_skip_present(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    write_trips(source / "a.parquet", [5, 6], [1, 2], [3, 4])
    dest = tmp_path / "data"
    first = download(dest, f"file://{source}", "a.parquet")
    assert first.returncode == 0, first.stderr
    assert (dest / "a.parquet").read_bytes() == (source / "a.parquet").read_bytes()
    second = download(dest, f"file://{source}", "a.parquet")
    assert (second.returncode, second.stderr) == (0, "")  # quiet: `make data` runs it every time


def test_download_rejects_non_parquet(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "a.parquet").write_text("<html>Access denied</html>")
    dest = tmp_path / "data"
    result = download(dest, f"file://{source}", "a.parquet")
    assert result.returncode == 1
    assert "not a parquet file" in result.stderr
    assert list(dest.iterdir()) == []


def test_download_missing_file_fails_clearly(tmp_path: Path) -> None:
    result = download(tmp_path / "data", f"file://{tmp_path}/nowhere", "a.parquet")
    assert result.returncode == 1
    assert "could not download" in result.stderr


def test_download_refuses_a_folder_named_like_the_file(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    write_trips(source / "a.parquet", [5, 6], [1, 2], [3, 4])
    (tmp_path / "data" / "a.parquet").mkdir(parents=True)
    (tmp_path / "data" / "a.parquet" / "notes.txt").write_text("mine")
    result = download(tmp_path / "data", f"file://{source}", "a.parquet")
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: {tmp_path}/data/a.parquet is a folder")
    assert (tmp_path / "data" / "a.parquet" / "notes.txt").read_text() == "mine"  # never removed


def make_in(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the repo's Makefile with `folder` as the current directory (for its relative paths)."""
    return subprocess.run(
        ["make", "-s", "-f", str(ROOT / "Makefile"), "-o", "install", *args],
        cwd=folder,
        capture_output=True,
        text=True,
    )


def test_make_data_downloads_the_missing_months_and_explains_a_folder(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    months = ("2023-01", "2023-02")
    for month in months:
        write_trips(source / f"green_tripdata_{month}.parquet", [5, 6], [1, 2], [3, 4])
    data = tmp_path / "data"
    settings = [f"TAXI_DATA_URL=file://{source}", f"MONTHS={' '.join(months)}", f"DATA_DIR={data}"]
    (data / "green_tripdata_2023-01.parquet").mkdir(parents=True)
    blocked = make_in(ROOT, "data", *settings)
    assert blocked.returncode != 0
    assert f"{data}/green_tripdata_2023-01.parquet is a folder, not a parquet" in blocked.stderr

    (data / "green_tripdata_2023-01.parquet").rmdir()
    first = make_in(ROOT, "data", *settings)
    assert first.returncode == 0, first.stderr
    assert sorted(path.name for path in (tmp_path / "data").iterdir()) == [
        f"green_tripdata_{month}.parquet" for month in months
    ]
    again = make_in(ROOT, "data", *settings)
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")


def test_make_clean_removes_scratch_folders(tmp_path: Path) -> None:
    output = tmp_path / "output"
    (output / ".tmp-123-abc").mkdir(parents=True)
    (output / ".tmp-123-abc" / "train.pkl").write_bytes(b"half")
    (output / "dv.pkl").write_bytes(b"x")
    (output / "notes.txt").write_text("mine")
    done = make_in(tmp_path, "-o", "server-stop", "clean")
    assert done.returncode == 0, done.stderr
    assert [path.name for path in output.iterdir()] == ["notes.txt"]


# What a value would run if the Makefile passed it to the shell unquoted.
INJECTED = "x y'; touch {marker}; echo \"`id`"


def test_make_user_passes_the_name_as_one_word(tmp_path: Path) -> None:
    marker = tmp_path / "M"
    name = INJECTED.format(marker=marker)
    env = {**os.environ, "PASSWORD": "a-reader-password"}
    env.pop("MLFLOW_AUTH_ADMIN_PASSWORD", None)
    env.pop("MLFLOW_TRACKING_PASSWORD", None)
    done = subprocess.run(
        [
            "make",
            "-s",
            "-C",
            str(ROOT),
            "-o",
            "install",
            "user",
            f"NAME={name}",
            f"VENV={sys.prefix}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0  # no admin login: refused by add_user.py, not by the shell
    assert "no admin login" in done.stderr, done.stderr
    assert not marker.exists()


@pytest.mark.parametrize(
    ("target", "variable"),
    [
        ("server", "PORT"),
        ("server", "HOST"),
        ("server-stop", "PORT"),
        ("s3", "S3_PORT"),
        ("s3-stop", "S3_DIR"),
        ("data", "DATA_DIR"),
        ("data", "TAXI_DATA_URL"),
        ("q2", "OUTPUT_DIR"),
        ("q4", "OUTPUT_DIR"),
        ("q5-spark", "SPARK_PARALLELISM"),
        ("q5-spark", "SPARK_MASTER"),
        ("q5-optuna", "STUDY"),
        ("q5-optuna", "WORKERS"),
        ("spark-cluster", "SPARK_DIR"),
        ("spark-cluster-stop", "SPARK_PORT"),
        ("q6", "DATA_DIR"),
        ("all", "DATA_DIR"),
        ("predict", "MODEL_URI"),
        ("serve-model", "MODEL_PORT"),
        ("serve-model", "FOLLOW_S"),
        ("rollback", "REASON"),
        ("rollback", "VERSION"),
        ("bench-serve", "TAXI_DATA_DIR"),
        ("user", "NAME"),
        ("test", "TAXI_DATA_DIR"),
        ("bench", "TAXI_DATA_DIR"),
        ("bench-scale", "SCALE"),
        ("bench-tuners", "TAXI_DATA_DIR"),
        ("clean", "OUTPUT_DIR"),
    ],
)
def test_every_value_reaches_the_shell_as_one_word(
    tmp_path: Path, target: str, variable: str
) -> None:
    """`make -n` prints each command: the value stays inside one word of it, whatever it holds."""
    value = INJECTED.format(marker=tmp_path / "M")
    done = subprocess.run(
        [
            "make",
            "-n",
            "-C",
            str(ROOT),
            "-o",
            "install",
            "-o",
            "install-team",
            "-o",
            "install-spark",
            "-o",
            "install-optuna",
            target,
            f"{variable}={value}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    commands = done.stdout.replace("\\\n", " ").splitlines()  # a recipe's continued lines
    lines = [line for line in commands if "touch" in line]
    assert lines, done.stdout
    for line in lines:
        words = shlex.split(line)
        assert "touch" not in words, line
        assert any(value in word for word in words), line

"""`t2l validate-data`: a root with one missing, one corrupt and one too-short video."""
from __future__ import annotations

import json

from modeling_t2l.cli import main
from tests.video_factory import write_video


def make_root(tmp_path, problems: bool = True):
    root = tmp_path / "videos"
    (root / "Walk").mkdir(parents=True)
    (root / "Run").mkdir()
    write_video(root / "Walk" / "v_Walk_g01_c01.avi", num_frames=12, fmt="avi-mpeg4")
    write_video(root / "Run" / "v_Run_g01_c01.mp4", num_frames=10)  # listed as .avi: found by stem
    lines = ["v_Walk_g01_c01.avi 0", "v_Run_g01_c01.avi 1"]
    if problems:
        write_video(root / "Run" / "v_Run_g02_c01.avi", num_frames=5, fmt="avi-mpeg4")  # too short for 8
        (root / "Walk" / "v_Walk_g02_c01.avi").write_bytes(b"RIFF\x00\x00\x00\x00AVI LIST garbage" * 20)  # corrupt
        lines += ["v_Run_g02_c01.avi 1", "v_Walk_g02_c01.avi 0", "v_Walk_g03_c01.avi 0"]  # the last one is missing
    split_file = tmp_path / "list.txt"
    split_file.write_text("\n".join(lines) + "\n")
    label_file = tmp_path / "labels.csv"
    label_file.write_text("id,name\n0,Walk\n1,Run\n")
    return root, split_file, label_file


def test_validate_data_reports_each_problem(tmp_path, capsys):
    root, split_file, label_file = make_root(tmp_path)
    report = tmp_path / "report.json"
    code = main(["validate-data", "--split-file", str(split_file), "--label-file", str(label_file),
                 "--video-root", str(root), "--num-frames", "8", "--report", str(report)])
    output = capsys.readouterr().out
    assert code == 1
    rows = {line.split()[2]: line for line in output.splitlines() if line.startswith("list ") and ".avi" in line}
    assert set(rows) == {"v_Walk_g03_c01.avi", "v_Walk_g02_c01.avi", "v_Run_g02_c01.avi"}
    assert " missing " in rows["v_Walk_g03_c01.avi"]
    assert " undecodable " in rows["v_Walk_g02_c01.avi"] and "VideoDecodeError" in rows["v_Walk_g02_c01.avi"]
    assert " too-short " in rows["v_Run_g02_c01.avi"] and "5 frames < 8" in rows["v_Run_g02_c01.avi"]
    counts = [line.split() for line in output.splitlines() if line.startswith("list ") and ".avi" not in line]
    assert counts == [["list", "5", "1", "1", "1", "2"]]  # listed, missing, undecodable, too short, ok
    problems = json.loads(report.read_text())["problems"]
    assert sorted(p["kind"] for p in problems) == ["missing", "too-short", "undecodable"]
    assert f"report written to {report}" in output  # the command says where its output went


def test_validate_data_clean_root_exits_zero(tmp_path, capsys):
    root, split_file, label_file = make_root(tmp_path, problems=False)
    code = main(["validate-data", "--split-file", str(split_file), "--label-file", str(label_file),
                 "--video-root", str(root), "--workers", "2"])
    output = capsys.readouterr().out
    assert code == 0 and "No problems found." in output


def test_validate_data_on_a_protocol_split(tmp_path, capsys):
    root = tmp_path / "ucf"
    (root / "ApplyEyeMakeup").mkdir(parents=True)
    write_video(root / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g01_c01.avi", num_frames=9, fmt="avi-mpeg4")
    code = main(["validate-data", "--protocol", "zero_shot_ucf101", "--data-root", str(root), "--split", "split1",
                 "--max-rows", "2"])
    output = capsys.readouterr().out
    assert code == 1
    assert "... and 3780 more" in output  # 3,783 listed, one present
    assert ["split1", "3783", "3782", "0", "0", "1"] in [line.split() for line in output.splitlines()]


def test_validate_data_defaults_to_the_target_dataset_splits(tmp_path, capsys):
    code = main(["validate-data", "--protocol", "zero_shot_hmdb51", "--data-root", str(tmp_path), "--max-rows", "0"])
    output = capsys.readouterr().out
    listed = {line.split()[0]: line.split()[1] for line in output.splitlines() if line.startswith("split")}
    assert code == 1 and listed == {"split": "listed", "split1": "1530", "split2": "1530", "split3": "1530"}  # no k400_val


def test_validate_data_unusable_root_is_exit_code_2(tmp_path, capsys):
    code = main(["validate-data", "--protocol", "zero_shot_ucf101", "--data-root", str(tmp_path / "absent")])
    assert code == 2 and "absent is not a directory" in capsys.readouterr().err

"""The comparison's plan, its figures and the files it writes, from made-up runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.bench.compare import (
    RESULTS_END,
    RESULTS_START,
    CompareConfig,
    CompareResult,
    chained_segment_bytes,
    markdown,
    plan,
    summarize,
    tree_bytes,
    write_docs,
)

MEDIA = {"video": "VP8 640x480 30 fps", "video_kbps": 1053, "frames": 300}


def run(
    server: str,
    sessions: int,
    cpu: float,
    fps: float = 30.0,
    latency_ms: float = 10.0,
    payload_kept: bool = True,
) -> CompareResult:
    subscribers = [
        {
            "video_fps": fps,
            "audio_fps": 50.0,
            "video_kbps": 1000.0,
            "video_settled": 300,
            "video_lost": 2,
            "audio_settled": 500,
            "audio_lost": 0,
        }
        for _ in range(2 * sessions)
    ]
    return CompareResult(
        server=server,
        sessions=sessions,
        window_s=10.0,
        server_cpu_pct=cpu,
        server_rss_idle_mb=100.0,
        server_rss_mb=100.0 + 5 * sessions,
        loadgen_cpu_pct=10.0 * sessions,
        loadgen_workers=1,
        machine_busy_pct=40.0,
        server_idle_cpu_pct=0.0,
        connections={"start": {"connected": 2}, "end": {"connected": 2}},
        setup_s=1.0,
        failed=[],
        subscribers=subscribers,
        video_latency_ms=[latency_ms] * 100 + [latency_ms * 3] * 5,
        audio_latency_ms=[latency_ms] * 10,
        recorded_bytes=2_500_000,
        payload_kept=payload_kept,
    )


def test_sustained_needs_frames_on_time_and_not_lost() -> None:
    assert run("ours", 1, cpu=10.0).sustained
    assert not run("ours", 1, cpu=10.0, fps=20.0).sustained
    assert not run("janus", 1, cpu=10.0, latency_ms=500.0).sustained  # p95 over 400 ms
    lossy = run("janus", 1, cpu=10.0)
    for row in lossy.subscribers:
        row["video_lost"] = 30  # 10 %
    assert not lossy.sustained
    assert run("naive", 1, cpu=50.0, payload_kept=False).sustained  # frame rate only


def test_plan_puts_servers_side_by_side_and_naive_at_its_own_n() -> None:
    config = CompareConfig(sessions=[1, 5], naive_sessions=[1, 2])
    assert plan(config) == [
        (1, "direct"),
        (1, "ours"),
        (1, "janus"),
        (1, "naive"),
        (2, "naive"),
        (5, "ours"),
        (5, "janus"),
    ]
    assert plan(
        CompareConfig(sessions=[3], naive_sessions=[], servers=("janus",), direct=False)
    ) == [(3, "janus")]


def test_result_figures() -> None:
    result = run("ours", 2, cpu=20.0)
    assert result.cpu_pct_per_session == 10.0
    assert result.rss_mb_per_session == 5.0
    assert result.loss_pct("video") == pytest.approx(100 * 2 / 300)
    assert result.loss_pct("audio") == 0.0
    assert result.latency("video", 50) == 10.0
    summary = result.summary()
    assert summary["recorded_kbps"] == 2000
    assert summary["video_loss_pct"] == 0.667
    naive = run("naive", 1, cpu=50.0, payload_kept=False)
    assert naive.loss_pct() is None and naive.latency("video", 95) is None
    assert naive.summary()["video_latency_ms_p95"] is None


def test_summary_compares_ours_and_janus_at_the_same_n() -> None:
    runs = [
        run("direct", 1, cpu=0.0, latency_ms=1.0),
        run("ours", 1, cpu=12.0, latency_ms=35.0),
        run("janus", 1, cpu=4.0, latency_ms=2.0),
        run("naive", 1, cpu=60.0, payload_kept=False),
        run("naive", 2, cpu=150.0, fps=12.0, payload_kept=False),  # not sustained
        run("ours", 5, cpu=40.0, latency_ms=36.0),
        run("janus", 5, cpu=15.0, latency_ms=3.0),
        run("ours", 10, cpu=95.0, fps=20.0),  # ours no longer sustains: headline stays at 5
        run("janus", 10, cpu=30.0),
    ]
    report = summarize(runs, CompareConfig(sessions=[1, 5, 10]), MEDIA, 1.0)
    assert report["sessions"] == 5
    assert report["sessions_disturbed"] is False
    assert report["sessions_max_ours"] == 5
    assert report["sessions_max_janus"] == 10
    assert report["ours_cpu_pct_per_session"] == 8.0
    assert report["janus_cpu_pct_per_session"] == 3.0
    assert report["ours_over_janus"] == 2.67
    assert report["naive_sessions"] == 1  # the largest N it sustained
    assert report["naive_cpu_pct_per_session"] == 60.0
    assert report["naive_over_ours"] == 5.0
    assert report["ours_added_latency_ms_p50"] == 35.0  # 36 - 1
    assert report["janus_added_latency_ms_p50"] == 2.0
    ours_p95, direct_p95 = runs[5].latency("video", 95), runs[0].latency("video", 95)
    assert ours_p95 is not None and direct_p95 is not None
    assert report["ours_added_latency_ms_p95"] == pytest.approx(ours_p95 - direct_p95)
    assert report["goal"] == {"ours_over_janus_le_2": False, "ours_20_sessions_sustained": False}
    assert report["by_sessions"]["10"]["ours_sustained"] is False
    json.dumps(report)  # the last line of the output


def test_summary_prefers_an_undisturbed_pair() -> None:
    runs = [run("ours", n, cpu=5.0 * n) for n in (1, 5, 10)]
    runs += [run("janus", n, cpu=2.0 * n) for n in (1, 5, 10)]
    runs[2].machine_busy_pct = 100.0  # ours at N=10: others took most of the machine
    report = summarize(runs, CompareConfig(sessions=[1, 5, 10]), MEDIA, 1.0)
    assert report["sessions"] == 5
    assert report["sessions_disturbed"] is False
    for result in runs:
        result.machine_busy_pct = 100.0  # every window disturbed: the largest sustained N
    report = summarize(runs, CompareConfig(sessions=[1, 5, 10]), MEDIA, 1.0)
    assert report["sessions"] == 10
    assert report["sessions_disturbed"] is True


def test_summary_without_a_common_sustained_n() -> None:
    runs = [run("ours", 1, cpu=12.0, fps=3.0), run("janus", 1, cpu=4.0)]
    report = summarize(runs, CompareConfig(sessions=[1], direct=False), MEDIA, 1.0)
    assert report["sessions"] == 1  # the smallest N both ran
    assert report["sessions_max_ours"] == 0
    assert report["ours_added_latency_ms_p95"] is None  # no direct run to compare with


def _report() -> dict[str, Any]:
    runs = [run("direct", 1, 0.0, latency_ms=1.0), run("ours", 1, 12.0), run("janus", 1, 4.0)]
    return summarize(runs, CompareConfig(sessions=[1]), MEDIA, 1.0)


def test_markdown_table() -> None:
    text = markdown(_report())
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("| server"))
    rows = [line for line in lines if line.startswith("| ") and line != header]
    assert [row.split("|")[1].strip() for row in rows] == ["direct", "ours", "janus"]
    assert all(row.count("|") == header.count("|") for row in rows)
    assert '"ours_over_janus": 3.0' in text


def test_write_docs_replaces_only_the_results_block(tmp_path: Path) -> None:
    page = tmp_path / "janus.md"
    page.write_text(
        f"# Title\n\nprose before\n\n{RESULTS_START}\nold\n{RESULTS_END}\n\nprose after\n"
    )
    write_docs(_report(), tmp_path)
    text = page.read_text()
    assert text.startswith("# Title\n\nprose before\n\n")
    assert text.endswith("\n\nprose after\n")
    assert "old" not in text and "| ours | 1 |" in text
    png = (tmp_path / "janus.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    # A page without the markers gets the block appended.
    page.write_text("# Only a title\n")
    write_docs(_report(), tmp_path)
    assert page.read_text().count(RESULTS_START) == 1


def test_recorded_bytes(tmp_path: Path) -> None:
    session = tmp_path / "spool" / "r-1"
    session.mkdir(parents=True)
    entries = [
        {"kind": "event", "body": {"type": "recording_started"}},
        {"kind": "segment", "body": {"size": 1000}},
        {"kind": "segment", "body": {"size": 234}},
    ]
    (session / "chain.jsonl").write_text("\n".join(json.dumps(e) for e in entries) + "\n{truncated")
    assert chained_segment_bytes(tmp_path / "spool") == 1234
    assert chained_segment_bytes(tmp_path / "nothing") == 0
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "a.mjr").write_bytes(b"x" * 10)
    (tmp_path / "rec" / "b.mjr").write_bytes(b"x" * 5)
    assert tree_bytes(tmp_path / "rec") == 15
    assert tree_bytes(tmp_path / "missing") == 0

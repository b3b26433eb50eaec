"""The comparison's plan, its figures and the files it writes, from made-up runs; the
applicant's face source of --face, from the shared test clip."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from media.frames import CodecInfo, is_keyframe
from tests.bench import face_source
from tests.bench.compare import (
    RESULTS_END,
    RESULTS_START,
    CompareConfig,
    CompareResult,
    QueueWatch,
    chained_segment_bytes,
    main,
    markdown,
    median_runs,
    plan,
    summarize,
    tree_bytes,
    write_docs,
)
from tests.bench.source import describe, make_source_webm, media_duration

VP8 = CodecInfo("video/VP8", 90000)

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


def test_rounds_alternate_the_servers_and_keep_the_median_run() -> None:
    config = CompareConfig(sessions=[5], naive_sessions=[], direct=False, rounds=3)
    config.servers = ("ours", "janus")
    assert plan(config) == [
        (5, "ours"),
        (5, "janus"),
        (5, "janus"),
        (5, "ours"),
        (5, "ours"),
        (5, "janus"),
    ]
    tried = [
        run("ours", 5, cpu=30.0),
        run("janus", 5, cpu=12.0),
        run("janus", 5, cpu=14.0),
        run("ours", 5, cpu=25.0),
        run("ours", 5, cpu=28.0),
        run("janus", 5, cpu=11.0),
    ]
    kept = median_runs(tried)
    assert [(r.server, r.server_cpu_pct) for r in kept] == [("ours", 28.0), ("janus", 12.0)]
    report = summarize(kept, config, MEDIA, 60.0)
    assert report["ours_over_janus"] == round(28.0 / 12.0, 2)
    # The same load generator CPU in both windows: nothing to correct.
    assert report["ours_over_janus_loadgen_normalized"] == report["ours_over_janus"]
    kept[0].loadgen_cpu_pct *= 1.25  # ours ran while the machine was 25 % slower
    slower = summarize(kept, config, MEDIA, 60.0)
    assert slower["ours_over_janus"] == report["ours_over_janus"]
    assert slower["ours_over_janus_loadgen_normalized"] == round(28.0 / 12.0 / 1.25, 2)
    assert slower["by_sessions"]["5"]["ours_over_janus_loadgen_normalized"] == round(
        28.0 / 12.0 / 1.25, 2
    )
    report["rounds"] = 3
    assert "each server 3 times at each N, alternated" in markdown(report)
    # An even number: the lower of the middle two.
    assert [r.server_cpu_pct for r in median_runs(tried[:4])] == [25.0, 12.0]


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


def _identity(session: str, kinds: dict[str, int]) -> dict[str, Any]:
    events = sum(kinds.values())
    presence = kinds.get("present", 0)
    return {
        "session": session,
        "events": events,
        "checks": events,
        "full_checks": events - presence,
        "presence_checks": presence,
        "kinds": kinds,
        "latency_ms": [120.0] * events,
        "before_window": 3,
    }


def test_identity_checks_that_never_ran_are_not_sustained_and_say_so() -> None:
    checked = run("ours", 2, cpu=30.0)
    checked.identity_expected = True
    checked.identity = [
        _identity("s0", {"match": 3, "no_face": 1, "present": 4}),
        _identity("s1", {"match": 4}),
    ]
    assert checked.sustained
    assert not any("IDENTITY" in note for note in checked.notes())
    summary = checked.summary()
    assert summary["identity_events"] == 12 and summary["identity_match"] == 7
    assert summary["identity_full_checks"] == 8 and summary["identity_presence_checks"] == 4
    assert summary["identity_kinds"] == {"match": 7, "no_face": 1, "present": 4}
    assert summary["identity_silent_sessions"] == 0
    assert summary["identity_latency_ms_p50"] == 120.0

    half = run("ours", 2, cpu=30.0)
    half.identity_expected = True
    half.identity = [_identity("s0", {"match": 3}), _identity("s1", {})]  # s1: nothing came
    assert not half.sustained
    assert half.identity_silent == 1
    assert "IDENTITY CHECKS DID NOT RUN: 1 of 2" in half.notes()[0]

    silent = run("ours", 1, cpu=10.0)
    silent.identity_expected = True  # --face, and the load generator saw no identity event
    assert not silent.sustained and silent.summary()["identity_events"] == 0
    assert silent.summary()["notes"][0].startswith("IDENTITY CHECKS DID NOT RUN")

    janus_run = run("janus", 1, cpu=4.0)  # Janus checks nobody: nothing expected, none shown
    assert janus_run.sustained and janus_run.summary()["identity_events"] is None


def test_a_load_generator_behind_on_its_sockets_is_noted_and_shown() -> None:
    caught_up = run("ours", 20, cpu=60.0)
    caught_up.server_rx_queued_max = 50 << 10
    caught_up.loadgen_rx_queued_max = 1300 << 10  # a pause's worth (session 9, N=20)
    assert not any("load generator's sockets" in note for note in caught_up.notes())
    behind = run("ours", 20, cpu=60.0)
    behind.loadgen_rx_queued_max = 7 << 20
    assert "held up to 7168 KB unread" in " ".join(behind.notes())
    summary = caught_up.summary()
    assert (summary["server_rx_queued_kb_max"], summary["loadgen_rx_queued_kb_max"]) == (50, 1300)
    report = summarize([caught_up, behind], CompareConfig(sessions=[20]), MEDIA, 1.0)
    assert "lg rxq KB" in markdown(report)


async def test_queue_watch_samples_the_unread_bytes_of_each_side() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender,
    ):
        receiver.bind(("127.0.0.1", 0))
        for _ in range(4):
            sender.sendto(b"x" * 1000, receiver.getsockname())
        watch = QueueWatch(None, [os.getpid()])  # this process as the load generator
        await watch.watch(0.3)
    assert watch.loadgen_max >= 4000
    assert watch.server_max == 0  # no server process (direct)


def test_summary_and_table_show_identity_checks_per_n() -> None:
    runs = [run("ours", 1, cpu=20.0), run("ours", 5, cpu=60.0), run("janus", 1, cpu=4.0)]
    for result, kinds in zip(runs[:2], ({"match": 3, "present": 2}, {}), strict=True):
        result.identity_expected = True
        result.identity = [_identity(f"s{i}", kinds) for i in range(result.sessions)]
    report = summarize(runs, CompareConfig(sessions=[1, 5], face=True), MEDIA, 1.0)
    assert report["identity_checks"] == {
        "events_by_sessions": {"1": 5, "5": 0},
        "match_by_sessions": {"1": 3, "5": 0},
        "full_checks_by_sessions": {"1": 3, "5": 0},
        "presence_checks_by_sessions": {"1": 2, "5": 0},
        "silent": [5],
    }
    assert report["sessions_max_ours"] == 1  # N=5 ran no check: not sustained
    text = markdown(report)
    assert "identity checks on" in text and "IDENTITY CHECKS DID NOT RUN: 5 of 5" in text
    off = summarize(runs[2:], CompareConfig(sessions=[1]), MEDIA, 1.0)
    assert off["identity_checks"] is None and "identity checks off" in markdown(off)


def test_face_without_the_shared_testdata_exits_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(face_source, "CLIP", tmp_path / "absent" / "clip.mp4")
    monkeypatch.setattr(face_source, "SEATED_PHOTO", tmp_path / "absent" / "seated.jpg")
    for face, name in (("clip", "absent/clip.mp4"), ("seated", "absent/seated.jpg")):
        with pytest.raises(SystemExit) as exited:
            main(["--face", "--face-source", face, "--servers", "ours", "--sessions", "1"])
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert "--face needs the shared test data" in err and name in err


def test_the_seated_face_is_found_in_every_frame_and_matches_its_id_photo() -> None:
    if reason := face_source.missing_testdata("seated"):
        pytest.skip(reason)
    from identity.faces import detect, encode, face_distance
    from identity.id_document import load_image

    frames = list(face_source.FACES["seated"].pictures(90, 640, 480))
    assert all(f.shape == (480, 640, 3) for f in frames)
    assert float(np.abs(frames[0].astype(int) - frames[45].astype(int)).mean()) > 2  # it moves
    photo = load_image(face_source.SEATED_ID_PHOTO.read_bytes())
    [reference] = encode(photo, detect(photo))
    for frame in frames[::30]:
        boxes = detect(frame)
        assert len(boxes) == 1 and 130 <= boxes[0].height <= 190  # one face, webcam-sized
        [live] = encode(frame, boxes)
        assert face_distance(live, reference) < 0.5


def test_face_source_is_the_clip_in_the_synthetic_shape_with_its_audio(tmp_path: Path) -> None:
    if reason := face_source.missing_testdata("clip"):
        pytest.skip(reason)
    synthetic = make_source_webm(tmp_path / "source.webm", seconds=2)
    made = face_source.make_face_source_webm(
        tmp_path / "face.webm", synthetic, face="clip", seconds=2
    )
    shape, face = describe(synthetic), describe(made)
    assert face["video"] == shape["video"] == "VP8 640x480 30 fps"
    assert face["frames"] == shape["frames"] == 60
    assert face["keyframes"] == shape["keyframes"]
    assert 500 <= float(face["video_kbps"]) <= 2000  # the same target bit rate

    def audio(path: Path) -> list[bytes]:
        with av.open(str(path)) as container:
            return [bytes(p) for p in container.demux(audio=0) if p.size]

    assert audio(made) == audio(synthetic)  # the same Opus packets, byte for byte
    with av.open(str(made)) as container:
        picture = next(iter(container.decode(video=0))).to_ndarray(format="rgb24")
    assert picture[:50].max() < 40 and picture[-50:].max() < 40  # letterboxed: 640x360 in 480
    assert picture[100:380].std() > 10  # and the clip in between
    stamp = made.stat().st_mtime_ns
    assert face_source.make_face_source_webm(made, synthetic, face="clip", seconds=2) == made
    assert made.stat().st_mtime_ns == stamp  # cached for the run, not made again

    # The applicant's camera answers a keyframe request at the next branch (every 3rd frame),
    # and the stream stays one a decoder takes from start to end.
    async def play() -> list[bytes]:
        player = face_source.FaceFile(made, media_duration(made)).participant()
        player.clock = lambda: 1e9  # type: ignore[method-assign]  # no pacing: as fast as read
        track = player.video
        assert isinstance(track, face_source.KeyframeOnRequest)
        sent = []
        for index in range(60):
            if index in (4, 20):
                track.request_keyframe()
            packet = await track.recv()
            assert isinstance(packet, av.Packet)
            sent.append(bytes(packet))
        player.stop()
        return sent

    sent = asyncio.run(play())
    assert [i for i, data in enumerate(sent) if is_keyframe(VP8, data)] == [0, 6, 21]
    decoder = av.CodecContext.create("vp8", "r")
    pictures = [f for data in sent for f in decoder.decode(av.Packet(data))]
    assert len(pictures) == 60  # no frame refused: the branch is a stream of its own

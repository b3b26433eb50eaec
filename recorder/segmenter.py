"""Crash-safe recording of one participant: encoded frames muxed into closed WebM/Matroska files.

No codec is ever opened for encoding: packets go into the container as they came off the wire
(PyAV `add_mux_stream`, plus a never-opened decoder context where Opus needs its `OpusHead`).
A segment starts on a video keyframe and closes at the first keyframe after the target duration
(asking the publisher for one then). It is written as `NNNNNN.webm.part`, closed, fsynced and
renamed, so a crash leaves at most the `.part` of the segment being written; its JSON sidecar is
written after the media file and is the mark of a complete segment.

Timing: each track of the participant is anchored once (its first frame's pts ↔ its arrival on
the wall clock), so every frame has a media time on the wall clock. Frames are placed in media
time order (a short reorder window absorbs audio/video jitter); a segment's file time 0 is the
media time of its first frame, written to the sidecar as `start` (UTC), so any file time maps to
the wall clock: `start + t`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import hashlib
import heapq
import io
import itertools
import json
import logging
import os
import re
import struct
import threading
import time
from collections import deque
from collections.abc import AsyncIterable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av

from recorder.frames import (
    MUX_CODECS,
    WEBM_CODECS,
    CodecLike,
    Frame,
    PushSource,
    codec_name,
    picture_size,
)

logger = logging.getLogger(__name__)

DEFAULT_TARGET_S = 3.0
DEFAULT_KEYFRAME_WAIT_S = 2.0  # past target + this, close without a keyframe
DEFAULT_REORDER_S = 0.2  # audio/video arrive this far out of media-time order, at first
# A frame later than the window widens it to its lateness plus this, up to the maximum: a
# live video track can fall behind its audio (an encoder catching up, retransmissions an RTT
# late), and frames placed out of order would let a segment's audio run past the keyframe
# that starts the next one. The window is how long frames wait before being placed.
REORDER_MARGIN_S = 0.05
MAX_REORDER_S = 1.0
KEYFRAME_REREQUEST_S = 1.0  # ask again while waiting (upstream coalesces anyway)
RESYNC_AHEAD_S = 2.0  # a frame whose pts puts it this far after its arrival: the clock jumped
IDLE_CHECK_S = 0.5
RETIRED_WARN = 4  # segments waiting to be finished before a warning

PART_SUFFIX = ".part"
SIDECAR_SUFFIX = ".json"
MEDIA_SUFFIXES = (".webm", ".mkv")
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_id(value: str, what: str) -> str:
    """Ids become file names and object keys: refuse anything that could escape either."""
    if not SAFE_ID.match(value) or ".." in value:
        raise ValueError(f"{what} {value!r} must be 1-128 of A-Z a-z 0-9 . _ - (no '..')")
    return value


def utc_iso(seconds: float) -> str:
    """Wall-clock seconds as UTC ISO 8601 with milliseconds: 2024-05-01T08:00:00.123Z."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sequence_of(name: str) -> int | None:
    """The sequence number in `000012.webm`, `000012.json`, `000012.webm.part`, ..."""
    stem = name.split(".", 1)[0]
    return int(stem) if stem.isdigit() else None


def fsync_dir(directory: Path) -> None:
    # A rename is durable only once the directory entry is on disk.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `path` so that a crash leaves either the old state or the whole new file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


# --- metadata --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackInfo:
    """One track of a segment and how its timestamps map to the wall clock."""

    kind: str
    codec: str  # mime type as negotiated: video/VP8, audio/opus
    clock_rate: int
    channels: int | None
    width: int | None
    height: int | None
    frames: int
    # Source pts (codec clock, as the frames carry it) that file time 0 corresponds to:
    # a frame's file time is (pts - origin_pts) / clock_rate.
    origin_pts: int
    first_pts: int | None  # source pts of the first frame in this segment
    first_arrival: str | None  # when that frame actually arrived (UTC)
    # The track's anchor for the whole recording: anchor_pts was seen at anchor_arrival.
    anchor_pts: int
    anchor_arrival: str
    duration: float  # seconds from this track's first frame to the end of its last one


@dataclass(frozen=True)
class SegmentInfo:
    """A closed segment: what the sidecar JSON holds (the directory is local only)."""

    participant_id: str
    sequence: int
    file_name: str
    container: str  # "webm" or "matroska"
    start: str  # UTC of file time 0
    end: str
    start_time: float  # the same, as wall-clock seconds (time.time())
    end_time: float
    duration: float
    tracks: tuple[TrackInfo, ...]
    sha256: str
    size: int
    ended_by: str  # keyframe | no_keyframe | track_change | duration | idle | close
    skipped_video_frames: int  # delta frames dropped while the video waited for a keyframe
    clamped_frames: int  # frames that arrived after their place in time (moved, not dropped)
    directory: Path = field(compare=False)

    @property
    def path(self) -> Path:
        return self.directory / self.file_name

    @property
    def sidecar_path(self) -> Path:
        return self.directory / sidecar_name(self.sequence)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["directory"]
        data["tracks"] = [asdict(track) for track in self.tracks]
        return data


def sidecar_name(sequence: int) -> str:
    return f"{sequence:06d}{SIDECAR_SUFFIX}"


# --- per-track state -------------------------------------------------------------------------


@dataclass
class _Track:
    """A participant's track of one kind, across segments."""

    kind: str
    codec: CodecLike
    name: str  # VP8, OPUS, ...
    anchor_pts: int
    anchor_arrival: float
    last_pts: int
    epoch: int  # bumped when the track restarts (new codec, pts reset or jump)
    size: tuple[int, int] | None = None
    clock_rate: int = field(init=False)

    def __post_init__(self) -> None:
        self.clock_rate = self.codec.clock_rate

    def media_time(self, pts: int) -> float:
        return self.anchor_arrival + (pts - self.anchor_pts) / self.clock_rate


# A frame waiting in the reorder heap: (media time on the wall clock, arrival order, frame,
# track epoch). A tuple, not a dataclass: the heap compares entries in C, for every frame.
_Entry = tuple[float, int, Frame, int]


_opus_templates: dict[int, tuple[Any, Any]] = {}
_opus_lock = threading.Lock()


def _opus_template(channels: int) -> Any:
    """An input Opus stream to copy codec parameters from.

    PyAV has no setter for a codec-less stream's extradata; a stream made from this template
    carries a decoder context (never opened) whose extradata we can set to a proper OpusHead,
    which players (browsers above all) need. Made once: one silent packet, muxed and read back.
    """
    with _opus_lock:
        if channels not in _opus_templates:
            buffer = io.BytesIO()
            with av.open(buffer, "w", format="matroska") as out:
                stream = out.add_mux_stream("opus", rate=48000)
                packet = av.Packet(b"\xf8\xff\xfe")  # one 20 ms silent CELT frame
                packet.stream = stream
                packet.time_base = fractions.Fraction(1, 48000)
                packet.pts = packet.dts = 0
                out.mux(packet)
            buffer.seek(0)
            container = av.open(buffer, "r")
            _opus_templates[channels] = (container, container.streams.audio[0])
        return _opus_templates[channels][1]


def opus_head(channels: int, clock_rate: int) -> bytes:
    # RFC 7845 5.1: version 1, channels, pre-skip 0 (RTP carries none), input rate, gain 0,
    # mapping family 0.
    return b"OpusHead" + struct.pack("<BBHIhB", 1, channels, 0, clock_rate, 0, 0)


# --- one segment file ------------------------------------------------------------------------


@dataclass
class _TrackWriter:
    track: _Track
    stream: Any
    origin_pts: int
    epoch: int
    frames: int = 0
    first_pts: int | None = None
    first_file_pts: int | None = None
    first_arrival: float | None = None
    last_file_pts: int = -1
    held: tuple[int, int, bytes, bool] | None = None  # src pts, file pts, data, keyframe
    # The smallest spacing between two of its frames so far: the duration given to its last
    # frame when nothing follows it here (its last spacing may span a loss).
    min_delta: int = 0
    end_file_pts: int = 0
    time_base: fractions.Fraction = field(init=False)

    def __post_init__(self) -> None:
        self.time_base = fractions.Fraction(1, self.track.clock_rate)

    @property
    def started(self) -> bool:
        return self.frames > 0 or self.held is not None


class _SegmentWriter:
    """One `.part` file being written; `finish()` (blocking, in a thread) makes it a segment."""

    def __init__(
        self,
        directory: Path,
        participant_id: str,
        sequence: int,
        tracks: list[_Track],
        start_time: float,
    ) -> None:
        self.directory = directory
        self.participant_id = participant_id
        self.sequence = sequence
        self.start_time = start_time
        webm = all(track.name in WEBM_CODECS for track in tracks)
        self.container_format = "webm" if webm else "matroska"
        self.file_name = f"{sequence:06d}{'.webm' if webm else '.mkv'}"
        self.part_path = directory / (self.file_name + PART_SUFFIX)
        self.skipped_video_frames = 0
        self.clamped_frames = 0
        # Interleaving buffers at most this long when one track is silent (bounded memory).
        self._container = av.open(
            str(self.part_path),
            "w",
            format=self.container_format,
            options={"max_interleave_delta": "1000000"},
        )
        self.tracks: dict[str, _TrackWriter] = {}
        for track in tracks:
            origin = track.anchor_pts + round(
                (start_time - track.anchor_arrival) * track.codec.clock_rate
            )
            self.tracks[track.kind] = _TrackWriter(
                track, self._add_stream(track), origin, track.epoch
            )

    def _add_stream(self, track: _Track) -> Any:
        mux_name = MUX_CODECS[track.name]
        if track.name == "OPUS":
            channels = track.codec.channels or 2
            stream = self._container.add_stream_from_template(_opus_template(channels), opaque=True)
            stream.codec_context.extradata = opus_head(channels, track.codec.clock_rate)
            return stream
        if track.kind == "video":
            width, height = track.size or (0, 0)
            return self._container.add_mux_stream(mux_name, width=width, height=height)
        return self._container.add_mux_stream(mux_name, rate=track.codec.clock_rate)

    @property
    def has_video(self) -> bool:
        return "video" in self.tracks

    @property
    def video_started(self) -> bool:
        return self.has_video and self.tracks["video"].started

    def accepts(self, track: _Track, epoch: int) -> bool:
        writer = self.tracks.get(track.kind)
        return writer is not None and writer.track is track and writer.epoch == epoch

    def write(self, frame: Frame) -> bool:
        """Mux one frame (held back one frame per track, to know its duration)."""
        writer = self.tracks[frame.kind]
        if frame.kind == "video" and not writer.started and not frame.keyframe:
            self.skipped_video_frames += 1
            return False
        file_pts = frame.pts - writer.origin_pts
        if file_pts <= writer.last_file_pts or file_pts < 0:
            # Arrived later than the reorder window allows: keep it, as close as possible.
            file_pts = max(writer.last_file_pts + 1, 0)
            self.clamped_frames += 1
        if writer.first_pts is None:
            writer.first_pts = frame.pts
            writer.first_file_pts = file_pts
            writer.first_arrival = frame.arrival
        if writer.held is not None:
            self._mux(writer, file_pts - writer.held[1])
        writer.held = (frame.pts, file_pts, frame.data, frame.keyframe or frame.kind != "video")
        writer.last_file_pts = file_pts
        writer.frames += 1
        return True

    def _mux(self, writer: _TrackWriter, duration: int) -> None:
        assert writer.held is not None
        _, file_pts, data, keyframe = writer.held
        writer.held = None
        if duration > 0 and (not writer.min_delta or duration < writer.min_delta):
            writer.min_delta = duration
        packet = av.Packet(data)
        packet.stream = writer.stream
        packet.time_base = writer.time_base
        packet.pts = packet.dts = file_pts
        packet.duration = duration
        packet.is_keyframe = keyframe
        self._container.mux(packet)
        writer.end_file_pts = file_pts + duration

    def finish(self, ended_by: str, next_pts: dict[str, int]) -> SegmentInfo:
        """Flush, close, fsync, rename, hash, then write the sidecar. Blocking."""
        for kind, writer in self.tracks.items():
            if writer.held is None:
                continue
            src_pts = writer.held[0]
            following = next_pts.get(kind)
            if following is not None and following > src_pts:
                duration = following - src_pts
            else:
                duration = writer.min_delta or _default_frame_ticks(writer.track)
            self._mux(writer, duration)
        self._container.close()
        with open(self.part_path, "rb") as fh:
            os.fsync(fh.fileno())
        final = self.directory / self.file_name
        os.replace(self.part_path, final)
        fsync_dir(self.directory)
        digest, size = _hash_file(final)
        info = self._info(ended_by, digest, size)
        write_atomic(info.sidecar_path, json.dumps(info.as_dict(), indent=1).encode())
        return info

    def _info(self, ended_by: str, digest: str, size: int) -> SegmentInfo:
        tracks: list[TrackInfo] = []
        end_time = self.start_time
        for writer in self.tracks.values():
            track = writer.track
            clock = track.codec.clock_rate
            if writer.frames:
                end_time = max(end_time, self.start_time + writer.end_file_pts / clock)
            width, height = track.size or (None, None)
            tracks.append(
                TrackInfo(
                    kind=track.kind,
                    codec=track.codec.mime_type,
                    clock_rate=clock,
                    channels=track.codec.channels,
                    width=width if track.kind == "video" else None,
                    height=height if track.kind == "video" else None,
                    frames=writer.frames,
                    origin_pts=writer.origin_pts,
                    first_pts=writer.first_pts,
                    first_arrival=(
                        utc_iso(writer.first_arrival) if writer.first_arrival is not None else None
                    ),
                    anchor_pts=track.anchor_pts,
                    anchor_arrival=utc_iso(track.anchor_arrival),
                    duration=round((writer.end_file_pts - (writer.first_file_pts or 0)) / clock, 6)
                    if writer.frames
                    else 0.0,
                )
            )
        return SegmentInfo(
            participant_id=self.participant_id,
            sequence=self.sequence,
            file_name=self.file_name,
            container=self.container_format,
            start=utc_iso(self.start_time),
            end=utc_iso(end_time),
            start_time=self.start_time,
            end_time=end_time,
            duration=round(end_time - self.start_time, 6),
            tracks=tuple(tracks),
            sha256=digest,
            size=size,
            ended_by=ended_by,
            skipped_video_frames=self.skipped_video_frames,
            clamped_frames=self.clamped_frames,
            directory=self.directory,
        )


def _default_frame_ticks(track: _Track) -> int:
    # Used only for a track's very last frame with no neighbour to measure: 20 ms of audio,
    # a 30 fps video frame.
    return track.codec.clock_rate // (50 if track.kind == "audio" else 30)


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


# --- the segmenter ---------------------------------------------------------------------------


class Segmenter:
    """Records one participant into closed segments in `directory`.

    `push(frame)` takes a frame synchronously (the cheap path: a push source calls it from the
    packet handler, with no queue and no task switch per frame); `await feed(frame)` and
    `run(frames)` (an async iterable, or a `PushSource` it attaches to) wrap it. `close()`
    finishes the segment being written. Closed segments are finished (flushed, fsynced, hashed)
    in a thread, one at a time, and `on_segment` is called, in sequence order, with each once
    its file and sidecar are durable (the uploader's `submit`, the chain).
    """

    def __init__(
        self,
        participant_id: str,
        directory: Path,
        *,
        target_duration: float = DEFAULT_TARGET_S,
        keyframe_wait: float = DEFAULT_KEYFRAME_WAIT_S,
        reorder_window: float = DEFAULT_REORDER_S,
        request_keyframe: Callable[[], None] | None = None,
        on_segment: Callable[[SegmentInfo], object] | None = None,
        first_sequence: int | None = None,
    ) -> None:
        if not 0 < target_duration <= 60:
            raise ValueError("target_duration must be between 0 and 60 seconds")
        self.participant_id = check_id(participant_id, "participant id")
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.target_duration = target_duration
        self.keyframe_wait = keyframe_wait
        self.reorder_window = reorder_window
        self.reorder_widened = 0  # times a late frame widened the window
        self._request_keyframe = request_keyframe
        self._on_segment = on_segment
        self._next_sequence = (
            first_sequence if first_sequence is not None else next_free_sequence(directory)
        )
        self._tracks: dict[str, _Track] = {}
        self._names: dict[str, str] = {}  # mime type -> codec name, looked up per frame
        self._heap: list[_Entry] = []
        self._order = itertools.count()
        self._latest = float("-inf")  # newest media time seen
        self._placed_until = float("-inf")  # newest media time written into a segment
        self._writer: _SegmentWriter | None = None
        self._last_request = float("-inf")
        self._last_arrival = time.time()
        self._pending_skips = 0  # video deltas dropped while no segment was open
        # Segments handed over for finishing, oldest first, and the task finishing them.
        self._retired: deque[tuple[_SegmentWriter, str, dict[str, int]]] = deque()
        self._finisher: asyncio.Task[None] | None = None
        self._closed = False
        # Counters for metrics and tests.
        self.segments_closed = 0
        self.frames_written = 0
        self.keyframe_requests = 0
        self.unsupported_frames = 0
        self.failed_frames = 0  # frames a push source delivered that raised (logged once)
        self.late_keyframes = 0  # keyframes too late to start a segment (see _place)
        self.last_segment: SegmentInfo | None = None

    # -- feeding -------------------------------------------------------------------------------

    async def run(self, frames: AsyncIterable[Frame] | PushSource) -> None:
        """Record until `frames` ends, then close. Closes idle segments while frames pause."""
        ticker = asyncio.create_task(self._tick())
        try:
            if isinstance(frames, PushSource):
                ended = asyncio.Event()
                frames.deliver_to(self._push_delivered, ended.set)
                await ended.wait()
            else:
                async for frame in frames:
                    await self.feed(frame)
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            await asyncio.shield(self.close())

    async def feed(self, frame: Frame) -> None:
        """Take one frame, in arrival order; waits while segments are waiting to be finished
        (a caller faster than real time, reading a file, gets held back here)."""
        self.push(frame)
        while len(self._retired) > 1 and self._finisher is not None:
            await asyncio.shield(self._finisher)

    def push(self, frame: Frame) -> None:
        """Take one frame, in arrival order, without waiting (a segment closes in a thread)."""
        if self._closed:
            raise RuntimeError("segmenter is closed")
        entry = self._timeline(frame)
        if entry is None:
            return
        self._last_arrival = frame.arrival
        heap = self._heap
        heapq.heappush(heap, entry)
        if entry[0] > self._latest:
            self._latest = entry[0]
        else:
            late = self._latest - entry[0]
            if late > self.reorder_window and self.reorder_window < MAX_REORDER_S:
                self.reorder_window = min(MAX_REORDER_S, late + REORDER_MARGIN_S)
                self.reorder_widened += 1
        due = self._latest - self.reorder_window
        while heap and heap[0][0] <= due:
            self._place(heapq.heappop(heap))

    def _push_delivered(self, frame: Frame) -> None:
        # Called inside the media path: a failure here must cost this recording a frame, not
        # the publisher's packet handling.
        if self._closed:
            return
        try:
            self.push(frame)
        except Exception:
            if not self.failed_frames:
                logger.exception("%s: recording a frame failed", self.participant_id)
            self.failed_frames += 1

    async def close(self) -> None:
        """Finish the segment being written (end of session); further frames are refused."""
        if not self._closed:
            self._closed = True
            self._place_all()
            self._retire("close", None)
        while self._finisher is not None and not self._finisher.done():
            await asyncio.shield(self._finisher)

    async def _tick(self) -> None:
        # With no frames at all (every track paused), nothing else would ever close the file.
        while True:
            await asyncio.sleep(IDLE_CHECK_S)
            if self._closed:
                return
            now = time.time()
            if now - self._last_arrival < max(self.reorder_window, IDLE_CHECK_S):
                continue
            self._place_all()
            writer = self._writer
            if writer is not None and now - writer.start_time >= self.target_duration:
                self._retire("idle", None)

    # -- timing --------------------------------------------------------------------------------

    def _timeline(self, frame: Frame) -> _Entry | None:
        codec = frame.codec
        name = self._names.get(codec.mime_type)
        if name is None:
            name = self._names[codec.mime_type] = codec_name(codec)
        kind = frame.kind
        if name not in MUX_CODECS or kind not in ("audio", "video"):
            if self.unsupported_frames == 0:
                logger.error(
                    "%s: %s %s cannot be recorded without transcoding; its frames are dropped",
                    self.participant_id,
                    kind,
                    codec.mime_type,
                )
            self.unsupported_frames += 1
            return None
        track = self._tracks.get(kind)
        pts = frame.pts
        if (
            track is None
            or track.codec.mime_type.lower() != codec.mime_type.lower()
            or track.clock_rate != codec.clock_rate
            or pts < track.last_pts - track.clock_rate  # restarted, not reordered
            or track.media_time(pts) - frame.arrival > RESYNC_AHEAD_S
        ):
            if track is not None:
                # Frames of the old run still waiting in the reorder window go out first, on
                # their own timeline: placed after the restart they would each look like a
                # track change (a one-frame segment apiece, timed by the new anchor).
                self._place_all()
            track = self._restart_track(frame, name, track)
        track.last_pts = pts
        if kind == "video" and frame.keyframe:
            track.size = picture_size(name, frame.data) or track.size
        return (track.media_time(pts), next(self._order), frame, track.epoch)

    def _restart_track(self, frame: Frame, name: str, previous: _Track | None) -> _Track:
        track = _Track(
            kind=frame.kind,
            codec=frame.codec,
            name=name,
            anchor_pts=frame.pts,
            anchor_arrival=frame.arrival,
            last_pts=frame.pts,
            epoch=previous.epoch + 1 if previous is not None else 0,
            size=previous.size if previous is not None else None,
        )
        self._tracks[frame.kind] = track
        return track

    # -- segment boundaries --------------------------------------------------------------------

    def _place_all(self) -> None:
        """Place every frame waiting in the reorder window, in media time order."""
        heap = self._heap
        while heap:
            self._place(heapq.heappop(heap))

    def _place(self, entry: _Entry) -> None:
        entry_time, _, frame, epoch = entry
        track = self._tracks[frame.kind]
        writer = self._writer
        # The common case first: a frame of the open segment's own track, before its target
        # duration (no boundary to consider).
        if (
            writer is not None
            and entry_time - writer.start_time < self.target_duration
            and writer.accepts(track, epoch)
        ):
            self._write(writer, frame, entry_time)
            return
        startable = frame.kind == "audio" or frame.keyframe
        if writer is not None:
            elapsed = entry_time - writer.start_time
            reason: str | None = None
            accepted = writer.accepts(track, epoch)
            if not accepted:
                reason = "track_change" if startable else None
            elif writer.has_video:
                due = elapsed >= self.target_duration
                keyframe = frame.kind == "video" and frame.keyframe
                # A keyframe placed after later frames of the other track (it came later than
                # the reorder window: a big keyframe slow to encode or to arrive) cannot start
                # a segment without the two overlapping in time: it stays in this one, and
                # the next keyframe starts the next.
                if due and keyframe and entry_time >= self._placed_until:
                    reason = "keyframe"
                elif elapsed >= self.target_duration + self.keyframe_wait:
                    reason = "no_keyframe"
                elif due:
                    if keyframe:
                        self.late_keyframes += 1
                    self._ask_keyframe(entry_time)
            elif elapsed >= self.target_duration:
                reason = "duration"
            if reason is not None:
                self._retire(reason, {frame.kind: frame.pts} if accepted else {})
                writer = None
            elif not accepted:
                # A new track's first frame is not a keyframe: wait for one.
                self._pending_skips += 1
                self._ask_keyframe(entry_time)
                return
        if writer is None:
            if not startable:
                self._pending_skips += 1
                self._ask_keyframe(entry_time)
                return
            writer = self._open(entry_time)
        self._write(writer, frame, entry_time)

    def _write(self, writer: _SegmentWriter, frame: Frame, entry_time: float) -> None:
        if writer.write(frame):
            self.frames_written += 1
            if entry_time > self._placed_until:
                self._placed_until = entry_time
        elif frame.kind == "video":
            self._ask_keyframe(entry_time)

    def _open(self, start_time: float) -> _SegmentWriter:
        writer = _SegmentWriter(
            self.directory,
            self.participant_id,
            self._next_sequence,
            list(self._tracks.values()),
            start_time,
        )
        writer.skipped_video_frames = self._pending_skips
        self._pending_skips = 0
        self._next_sequence += 1
        self._writer = writer
        return writer

    def _ask_keyframe(self, now: float) -> None:
        if self._request_keyframe is None or now - self._last_request < KEYFRAME_REREQUEST_S:
            return
        self._last_request = now
        self.keyframe_requests += 1
        try:
            self._request_keyframe()
        except Exception:  # the publisher may be gone; recording goes on
            logger.exception("%s: keyframe request failed", self.participant_id)

    def _retire(self, reason: str, following: dict[str, int] | None) -> None:
        """Hand the open segment over for finishing; segments finish in order, one at a time."""
        writer, self._writer = self._writer, None
        if writer is None:
            return
        self._last_request = float("-inf")  # the next boundary asks afresh
        self._retired.append((writer, reason, following or {}))
        if len(self._retired) > RETIRED_WARN:
            # Finishing (a flush, two fsyncs, a hash) takes milliseconds; this many waiting
            # means the disk stalls. Each one waiting holds only its open file.
            logger.warning(
                "%s: %d segments waiting to be finished", self.participant_id, len(self._retired)
            )
        if self._finisher is None or self._finisher.done():
            self._finisher = asyncio.get_running_loop().create_task(self._finish_retired())

    async def _finish_retired(self) -> None:
        while self._retired:
            writer, reason, following = self._retired[0]
            await self._finish(writer, reason, following)
            self._retired.popleft()

    async def _finish(
        self, writer: _SegmentWriter, reason: str, following: dict[str, int]
    ) -> SegmentInfo | None:
        try:
            info = await asyncio.to_thread(writer.finish, reason, following)
        except Exception:
            # The .part stays on disk; the spool reports it as incomplete on recovery.
            logger.exception("%s: closing segment %s failed", self.participant_id, writer.part_path)
            return None
        self.segments_closed += 1
        self.last_segment = info
        if self._on_segment is not None:
            try:
                self._on_segment(info)
            except Exception:
                logger.exception("%s: on_segment failed for %s", self.participant_id, info.path)
        return info


def next_free_sequence(directory: Path) -> int:
    """One past every sequence number used in `directory` (and its `confirmed/`), or 0.

    A restarted recorder must never reuse a name: the store would refuse the key.
    """
    highest = -1
    for folder in (directory, directory / "confirmed"):
        if folder.is_dir():
            for entry in os.scandir(folder):
                number = sequence_of(entry.name)
                if number is not None:
                    highest = max(highest, number)
    return highest + 1

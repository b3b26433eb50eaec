"""The applicant's source for `compare --face`: a real face, in the synthetic source's shape.

Live matching only does real work on a real face, so with `--face` the applicant plays a real
face from the shared test data (docs/identity.md), while the notary keeps the synthetic source
of tests/bench/source.py. Two faces (`FACES`, `--face-source`):

- `seated` (the default): what a notarization's applicant looks like, someone sitting at their
  screen. Obama's 480p photo framed as a webcam head shot (the face ~160 px high), moving a few
  pixels as a seated person sways, with sensor noise in every frame (a still picture would
  encode to almost nothing; this fills the bit rate as a camera does). Matched against
  obama2.jpg, another photo of him (distance 0.35, as an ID photo against a webcam).
- `clip`: the Lin-Manuel Miranda clip (640x360, 29.97 fps, 9.2 s): a performer on a stage, who
  walks, turns away and is out of sight for seconds, with an audience member in view. The hard
  case for a live match (a check every 3 s finds no face about half the time), not a typical
  one. Matched against lin-manuel-miranda.png.

The pictures are looped to the synthetic source's duration, letterboxed to its size (scaling
would distort the face the matcher compares), and encoded the same way: VP8 at the same bit
rate and keyframe interval, at 30 fps. The audio track is the synthetic source's own Opus
packets, copied, so that the two parties differ in their video only.

A browser answers a keyframe request (PLI) with a keyframe at once; the server's identity
checks ask for one per check (media/decoded_tap.py). A pre-encoded file cannot, so the source
also holds branches (`branches_path`): every BRANCH_EVERY frames, the same frames encoded by a
fresh encoder (a keyframe, then its own delta frames) up to the file's next periodic keyframe.
Asked for a keyframe, the applicant's video track (`KeyframeOnRequest`) switches to the next
branch (at most BRANCH_EVERY - 1 frames later) and back to the file at that keyframe. A decoder
sees one consistent VP8 stream throughout (a lone keyframe followed by the file's own delta
frames would not decode: they depend on the state of the frames before it).
"""

from __future__ import annotations

import fractions
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from aiortc import RTCPeerConnection

from tests.bench.paced_source import EncodedFile, PacedParticipant, PacedTrack, StoredStream
from tests.bench.source import FPS
from tests.support import TESTDATA

CLIP = TESTDATA / "video" / "lin-manuel-miranda-clip.mp4"
ID_PHOTO = TESTDATA / "faces" / "lin-manuel-miranda.png"
SEATED_PHOTO = TESTDATA / "faces" / "obama-480p.jpg"
SEATED_ID_PHOTO = TESTDATA / "faces" / "obama2.jpg"  # another photo: 0.35 from the head shot
# Where the face is in obama-480p.jpg (853x480): rows 68-175, columns 390-497 (HOG).
SEATED_FACE = (68, 497, 175, 390)
SEATED_FACE_PX = 160  # the face's height in the 640x480 head shot


@dataclass(frozen=True)
class Face:
    """A face source for the applicant: its pictures, and the ID photo that matches them."""

    pictures: Callable[[int, int, int], Iterator[npt.NDArray[np.uint8]]]  # count, w, h -> RGB
    files: Callable[[], tuple[Path, Path]]  # (what the pictures come from, the ID photo)

    @property
    def id_photo(self) -> Path:
        return self.files()[1]


def _clip_pictures(count: int, width: int, height: int) -> Iterator[npt.NDArray[np.uint8]]:
    for rgb in _clip_frames(CLIP, count):
        yield letterbox(rgb, width, height)


def _seated_pictures(count: int, width: int, height: int) -> Iterator[npt.NDArray[np.uint8]]:
    """A head shot of the photo that sways a few pixels (periods of 5 and 7 s) under noise."""
    head = seated_head_shot(width, height)
    rng = np.random.default_rng(7)
    margin = 8
    padded = np.pad(head, ((margin, margin), (margin, margin), (0, 0)), mode="edge")
    for index in range(count):
        t = index / FPS
        dx = round(6 * np.sin(2 * np.pi * t / 5))
        dy = round(3 * np.sin(2 * np.pi * t / 7))
        frame = padded[margin + dy : margin + dy + height, margin + dx : margin + dx + width]
        noise = rng.normal(0, 3, frame.shape)
        yield np.clip(frame + noise, 0, 255).astype(np.uint8)


def seated_head_shot(width: int, height: int) -> npt.NDArray[np.uint8]:
    """obama-480p.jpg cropped around the face at the frame's aspect ratio, the face
    SEATED_FACE_PX high once scaled to `width` x `height`, a third of the way down."""
    with av.open(str(SEATED_PHOTO)) as container:
        photo = next(container.decode(video=0)).to_ndarray(format="rgb24")
    top, right, bottom, left = SEATED_FACE
    crop_h = round(height * (bottom - top) / SEATED_FACE_PX)
    crop_w = round(crop_h * width / height)
    cy, cx = (top + bottom) // 2, (left + right) // 2
    y0 = min(max(0, cy - crop_h // 3), photo.shape[0] - crop_h)
    x0 = min(max(0, cx - crop_w // 2), photo.shape[1] - crop_w)
    crop = np.ascontiguousarray(photo[y0 : y0 + crop_h, x0 : x0 + crop_w], dtype=np.uint8)
    frame = av.VideoFrame.from_ndarray(crop, format="rgb24")
    return np.asarray(frame.to_ndarray(format="rgb24", width=width, height=height))


FACES = {
    "seated": Face(_seated_pictures, lambda: (SEATED_PHOTO, SEATED_ID_PHOTO)),
    "clip": Face(_clip_pictures, lambda: (CLIP, ID_PHOTO)),
}


def missing_testdata(face: str = "seated") -> str:
    """Why `--face` cannot run here, or "" when its pictures and the ID photo are there."""
    absent = [str(p) for p in FACES[face].files() if not p.exists()]
    if not absent:
        return ""
    return (
        f"--face needs the shared test data (a real face and its ID photo), missing: "
        f"{', '.join(absent)} (../shared/testdata lies beside the repo)"
    )


def _clip_frames(clip: Path, count: int) -> Iterator[npt.NDArray[np.uint8]]:
    """`count` RGB frames of the clip, at its own rate, from the start again at its end."""
    produced = 0
    while produced < count:
        before = produced
        with av.open(str(clip)) as container:
            for frame in container.decode(video=0):
                yield np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
                produced += 1
                if produced == count:
                    return
        if produced == before:
            raise ValueError(f"no video frame in {clip}")


def letterbox(image: npt.NDArray[np.uint8], width: int, height: int) -> npt.NDArray[np.uint8]:
    """The image scaled to fit `width` x `height` with its aspect ratio kept, on black."""
    src_h, src_w = image.shape[:2]
    scale = min(width / src_w, height / src_h)
    new_w, new_h = max(2, round(src_w * scale) // 2 * 2), max(2, round(src_h * scale) // 2 * 2)
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    scaled = np.asarray(frame.to_ndarray(format="rgb24", width=new_w, height=new_h))
    out = np.zeros((height, width, 3), dtype=np.uint8)
    top, left = (height - new_h) // 2, (width - new_w) // 2
    out[top : top + new_h, left : left + new_w] = scaled
    return out


BRANCH_EVERY = 3  # frames: a keyframe request is answered within 100 ms at 30 fps


def branches_path(path: Path) -> Path:
    """The branches' frames, back to back; `.json` beside it says where each starts."""
    return path.with_suffix(".branches.bin")


def _vp8_stream(out: Any, *, width: int, height: int, fps: int, bit_rate: int, gop: int) -> Any:
    video = out.add_stream("libvpx", rate=fps)
    video.width, video.height, video.pix_fmt = width, height, "yuv420p"
    video.bit_rate = bit_rate
    video.codec_context.gop_size = gop
    video.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    return video


def make_face_source_webm(
    path: Path,
    synthetic: Path,
    *,
    face: str = "seated",
    seconds: int = 10,
    size: tuple[int, int] = (640, 480),
    fps: int = FPS,
    bit_rate: int = 1_000_000,
    keyframe_seconds: float = 2.0,
) -> Path:
    """The face's pictures as VP8 (like make_source_webm) with `synthetic`'s audio, and its
    branches (`branches_path`); reused when present."""
    if path.exists() and path.stat().st_size > 0 and branches_path(path).exists():
        return path  # cached for the run: every N and every repeat plays the same bytes
    width, height = size
    pictures = [
        av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        for rgb in FACES[face].pictures(seconds * fps, width, height)
    ]
    partial = path.with_suffix(".partial.webm")
    with av.open(str(synthetic)) as source, av.open(str(partial), "w", format="webm") as out:
        gop = max(1, round(fps * keyframe_seconds))
        video = _vp8_stream(out, width=width, height=height, fps=fps, bit_rate=bit_rate, gop=gop)
        in_audio = source.streams.audio[0]
        audio = out.add_stream_from_template(in_audio)
        _encode(out, video, pictures, fps)
        for packet in source.demux(in_audio):
            if packet.size == 0 or packet.pts is None:
                continue
            packet.stream = audio
            out.mux(packet)
    keyframes = [i for i, p in enumerate(_video_packets(partial)) if p.is_keyframe]
    starts, frames = [], []
    for start in range(0, len(pictures), BRANCH_EVERY):
        if start in keyframes:
            continue  # the file has a keyframe there itself
        end = min([k for k in keyframes if k > start] or [len(pictures)])
        codec = av.CodecContext.create("libvpx", "w")
        assert isinstance(codec, av.video.codeccontext.VideoCodecContext)
        codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
        codec.time_base = fractions.Fraction(1, fps)
        codec.bit_rate, codec.gop_size = bit_rate, 100_000  # no keyframe but the first
        codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        branch = [bytes(p) for i in range(start, end) for p in codec.encode(pictures[i])]
        branch += [bytes(p) for p in codec.encode(None)]
        if len(branch) != end - start:
            raise ValueError(f"branch at {start}: {len(branch)} packets for {end - start} frames")
        starts.append(start)
        frames.append(branch)
    partial_branches = branches_path(partial)
    partial_branches.write_bytes(b"".join(f for branch in frames for f in branch))
    index = {"starts": starts, "sizes": [[len(f) for f in branch] for branch in frames]}
    partial_branches.with_suffix(".json").write_text(json.dumps(index))
    partial_branches.with_suffix(".json").replace(branches_path(path).with_suffix(".json"))
    partial_branches.replace(branches_path(path))
    partial.replace(path)
    return path


def load_branches(path: Path) -> dict[int, list[bytes]]:
    """The branches of a face source: first frame index -> its frames."""
    blob = branches_path(path).read_bytes()
    index = json.loads(branches_path(path).with_suffix(".json").read_text())
    branches: dict[int, list[bytes]] = {}
    offset = 0
    for start, sizes in zip(index["starts"], index["sizes"], strict=True):
        branch = []
        for size in sizes:
            branch.append(blob[offset : offset + size])
            offset += size
        branches[start] = branch
    return branches


def _encode(out: Any, video: Any, pictures: list[av.VideoFrame], fps: int) -> None:
    # The clip's 29.97 fps frames, one per 1/30 s: 0.1 % slower, which nobody sees.
    for index, picture in enumerate(pictures):
        picture.pts = index
        picture.time_base = fractions.Fraction(1, fps)
        for packet in video.encode(picture):
            out.mux(packet)
    for packet in video.encode(None):
        out.mux(packet)


def _video_packets(path: Path) -> list[av.Packet]:
    with av.open(str(path)) as container:
        return [p for p in container.demux(video=0) if p.size]


class KeyframeOnRequest(PacedTrack):
    """The applicant's camera: the file's frames, or a branch's from a keyframe request on."""

    def __init__(
        self, owner: PacedParticipant, stream: StoredStream, branches: dict[int, list[bytes]]
    ) -> None:
        super().__init__(owner, stream)
        self._branches = branches
        self._on: tuple[int, list[bytes]] | None = None  # the branch being played
        self._asked = False
        self.requests = 0
        self.keyframes_on_request = 0

    def request_keyframe(self) -> None:
        """What the sender calls on a PLI (see FaceFile.answer_keyframe_requests)."""
        self.requests += 1
        self._asked = True

    async def recv(self) -> av.Packet:
        index = self._index  # the file's frame that super() is about to send
        packet = await super().recv()
        if _is_vp8_keyframe(bytes(packet)):
            self._on, self._asked = None, False  # the file's own keyframe answers too
            return packet
        if self._asked and index in self._branches:
            self._on, self._asked = (index, self._branches[index]), False
            self.keyframes_on_request += 1
        if self._on is None:
            return packet
        start, frames = self._on
        if not 0 <= index - start < len(frames):
            self._on = None  # cannot happen: a branch ends where the file has a keyframe
            return packet
        frame = av.Packet(frames[index - start])
        frame.pts, frame.dts, frame.time_base = packet.pts, packet.dts, packet.time_base
        return frame


def _is_vp8_keyframe(data: bytes) -> bool:
    return bool(data) and not data[0] & 1  # RFC 6386 9.1: frame type bit 0 = key frame


class FaceFile(EncodedFile):
    """The face source in memory; its participants' video answers keyframe requests."""

    def __init__(self, path: Path, duration: float) -> None:
        super().__init__(path, duration)
        self.branches = load_branches(path)

    def participant(self) -> PacedParticipant:
        player = PacedParticipant(self)
        player.video = KeyframeOnRequest(player, self.streams["video"], self.branches)
        return player

    @staticmethod
    def answer_keyframe_requests(pc: RTCPeerConnection, player: PacedParticipant) -> bool:
        """Route the video sender's PLI handling to the player's track (aiortc's own only
        re-encodes decoded frames). True if there was such a track."""
        track = player.video
        if not isinstance(track, KeyframeOnRequest):
            return False
        for sender in pc.getSenders():
            if sender.kind == "video":
                sender._send_keyframe = track.request_keyframe  # type: ignore[method-assign]
                return True
        return False

"""The forwarding path does not transcode: bytes in equal bytes out, and no codec runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiortc import rtcrtpreceiver, rtcrtpsender
from aiortc.codecs.base import Encoder
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.opus import OpusEncoder
from aiortc.codecs.vpx import Vp8Encoder

from tests.media.harness import RecordingTrack, Session, digest, wait_for

pytestmark = pytest.mark.unit


def _is_contiguous_run(received: list[str], sent: list[str]) -> bool:
    if not received or received[0] not in sent:
        return False
    start = sent.index(received[0])
    return sent[start : start + len(received)] == received


async def test_subscriber_gets_the_publishers_bytes_and_no_codec_runs(
    session: Session, webm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoders: list[Encoder] = []
    decoders_created = [0]
    encode_calls = [0]

    def recording_get_encoder(codec: object) -> Encoder:
        encoder = original_get_encoder(codec)
        encoders.append(encoder)
        return encoder

    def counting_get_decoder(codec: object) -> object:
        decoders_created[0] += 1
        return original_get_decoder(codec)

    def forbidden_encode(self: Encoder, *args: object, **kwargs: object) -> object:
        encode_calls[0] += 1
        raise AssertionError("an encoder ran")

    original_get_encoder = rtcrtpsender.get_encoder
    original_get_decoder = rtcrtpreceiver.get_decoder
    monkeypatch.setattr(rtcrtpsender, "get_encoder", recording_get_encoder)
    monkeypatch.setattr(rtcrtpreceiver, "get_decoder", counting_get_decoder)
    for cls in (Vp8Encoder, OpusEncoder, H264Encoder):
        monkeypatch.setattr(cls, "encode", forbidden_encode)

    player = session.player(webm)
    video, audio = RecordingTrack(player.video), RecordingTrack(player.audio)
    await session.join("applicant", [audio, video])
    # A pure viewer that taps what arrives instead of decoding it.
    viewer = await session.join("notary", [], decode=False, tap=True)

    def arrived(kind: str) -> int:
        return sum(len(r.frames) for r in viewer.received_of(kind))

    await wait_for(
        lambda: arrived("video") >= 60 and arrived("audio") >= 100,
        timeout=8,
        what="forwarded frames at the viewer",
    )

    for kind, sent in (("video", video.sent), ("audio", audio.sent)):
        (record,) = viewer.received_of(kind)
        got = [digest(frame.data) for frame in record.frames]
        assert _is_contiguous_run(got, sent), f"{kind}: received frames differ from sent"
    (video_record,) = viewer.received_of("video")
    assert video_record.frames[0].keyframe, "the viewer must start at a keyframe"

    # Nothing decoded anywhere (the viewer only tapped), nothing encoded anywhere (the
    # publisher sends packets): so the server did neither.
    assert decoders_created[0] == 0
    assert encode_calls[0] == 0
    # aiortc's sender builds its codec object to packetize; none ever opened a codec.
    assert encoders, "senders should have been created"
    for encoder in encoders:
        if isinstance(encoder, (Vp8Encoder, H264Encoder)):
            assert encoder.codec is None
        elif isinstance(encoder, OpusEncoder):
            assert not encoder.codec.is_open

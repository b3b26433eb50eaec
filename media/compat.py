"""The aiortc internals media/ relies on, checked once at import.

aiortc does not expose encoded frames on the receive side nor keyframe requests on the send
side, so two private seams are used (see docs/media.md). Both are tied to one aiortc release:
a different version fails loudly here instead of silently decoding or dropping PLIs.
"""

from __future__ import annotations

import aiortc
from aiortc import RTCRtpReceiver, RTCRtpSender

AIORTC_VERSION = "1.16.0"

# Name-mangled attribute of RTCRtpReceiver: the queue.Queue between _handle_rtp_packet() and
# decoder_worker(); it receives (codec, JitterFrame) tuples and a None sentinel on stop.
RECEIVER_DECODER_QUEUE = "_RTCRtpReceiver__decoder_queue"


class AiortcVersionError(ImportError):
    """The installed aiortc is not the release the hooks were written and tested against."""


def check_aiortc() -> None:
    if aiortc.__version__ != AIORTC_VERSION:
        raise AiortcVersionError(
            f"media/ hooks aiortc internals and needs aiortc=={AIORTC_VERSION}, "
            f"found {aiortc.__version__}; re-check media/receiver_tap.py and "
            "media/sender_hook.py against the new source before changing the pin"
        )
    # Methods the hooks call or replace; a rename inside the pinned release is impossible,
    # but a patched build could differ, so the names are checked once too.
    for cls, name in (
        (RTCRtpReceiver, "_send_rtcp_pli"),
        (RTCRtpReceiver, "_handle_rtp_packet"),
        (RTCRtpSender, "_send_keyframe"),
        (RTCRtpSender, "_handle_rtcp_packet"),
    ):
        if not callable(getattr(cls, name, None)):
            raise AiortcVersionError(f"aiortc {aiortc.__version__} lacks {cls.__name__}.{name}")


check_aiortc()

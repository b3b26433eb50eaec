"""Live media through the server: encoded frames forwarded between participants, never
transcoded, with taps for the recorder (encoded) and identity (decoded). See docs/media.md.

media/ never imports notary/ or signaling/.
"""

from media import fast_clock, fast_nack, fast_rate, fast_remb, fast_rtp, fast_srtp, remb_throttle
from media.compat import AIORTC_VERSION, AiortcVersionError
from media.decoded_tap import DecodedFrame, DecodedVideoTap
from media.fanout import Publication
from media.forwarded_track import ForwardedTrack
from media.frames import CodecInfo, EncodedFrame, is_keyframe
from media.negotiation import CodecUnavailable
from media.peer import NegotiationError, ParticipantPeer
from media.receiver_tap import ReceiverTap
from media.room import MediaRoom
from media.sender_hook import relay_keyframe_requests
from media.stats import NetworkStats
from media.subscription import Subscription, SubscriptionClosed

# Same values, cheaper per packet (media/fast_clock.py, fast_rate.py, fast_rtp.py); installed
# only after compat checked the aiortc pin.
fast_clock.install()
fast_rate.install()
fast_rtp.install()
# REMB feedback throttled as libwebrtc throttles it (media/remb_throttle.py).
remb_throttle.install()
# The receive-side bandwidth estimator, same outputs, 3-4 times cheaper (media/fast_remb.py).
fast_remb.install()
# The same libsrtp sessions, called with fewer Python steps per packet (media/fast_srtp.py).
fast_srtp.install()
# The same NACKs without a walk over the missing numbers per packet (media/fast_nack.py).
fast_nack.install()

__all__ = [
    "AIORTC_VERSION",
    "AiortcVersionError",
    "CodecInfo",
    "CodecUnavailable",
    "DecodedFrame",
    "DecodedVideoTap",
    "EncodedFrame",
    "ForwardedTrack",
    "MediaRoom",
    "NegotiationError",
    "NetworkStats",
    "ParticipantPeer",
    "Publication",
    "ReceiverTap",
    "Subscription",
    "SubscriptionClosed",
    "is_keyframe",
    "relay_keyframe_requests",
]

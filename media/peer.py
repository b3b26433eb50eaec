"""The server side of one participant: one RTCPeerConnection, its publications and subscriptions.

The participant always makes the offer; the server only answers. aiortc as offerer would
renumber the payload types of m-lines a browser negotiated before (its createOffer() starts
from its own defaults) and its receivers keep the first mapping, so server offers would break
publishing m-lines. Instead:
- the participant offers what it publishes; `handle_offer()` answers, taps each incoming
  track and announces it as a Publication;
- `subscribe()` records a publication to forward and raises `on_negotiation_needed`; the
  participant then adds one recvonly transceiver per kind in `receive_slots` and offers
  again; `handle_offer()` binds each new recvonly m-line to a pending subscription, pinned
  to its publisher's codec, before aiortc sees the offer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.sdp import MediaDescription, SessionDescription

from media import continuation, core, direct_receive
from media.decoded_tap import DecodedVideoTap
from media.fanout import Publication
from media.forwarded_track import ForwardedTrack
from media.frames import EncodedFrame
from media.keyframes import DEFAULT_MIN_INTERVAL
from media.negotiation import codec_preferences, offers_codec, primary_codecs
from media.receiver_tap import ReceiverTap
from media.sender_hook import relay_keyframe_requests
from media.stats import NetworkStats, StatsSampler
from media.subscription import Subscription

logger = logging.getLogger(__name__)

PublicationListener = Callable[[Publication], None]


class NegotiationError(RuntimeError):
    """An offer or answer arrived in a state where it cannot be applied."""


class ParticipantPeer:
    def __init__(
        self,
        participant_id: str,
        configuration: RTCConfiguration,
        *,
        keyframe_interval: float = DEFAULT_MIN_INTERVAL,
        on_negotiation_needed: Callable[[ParticipantPeer], None] | None = None,
    ) -> None:
        self.participant_id = participant_id
        # max-bundle: every transceiver on the first one's transport. With aiortc's default
        # (balanced) a transceiver created before the offer is applied is bound to its kind's
        # transport and skipped when BUNDLE is applied, so it would never connect. Browsers
        # always bundle, so nothing is lost.
        self.pc = RTCPeerConnection(replace(configuration, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.keyframe_interval = keyframe_interval
        self._on_negotiation_needed = on_negotiation_needed
        self._lock = asyncio.Lock()
        self._closed = False
        self._negotiation_needed = False
        self._taps: dict[str, ReceiverTap] = {}  # mid -> tap
        self._publications: dict[str, Publication] = {}  # mid -> open publication
        self._listeners: list[PublicationListener] = []
        self._forwarded: dict[Publication, ForwardedTrack] = {}
        self._pending: list[ForwardedTrack] = []  # subscribed, not yet on a transceiver
        self._senders: dict[ForwardedTrack, RTCRtpTransceiver] = {}
        self._encoded_streams: list[Subscription] = []
        self._decoded_taps: list[DecodedVideoTap] = []
        self._video_publications: list[Publication] = []  # ended ones too: frames count on
        self._stats = StatsSampler(participant_id)

    def __repr__(self) -> str:
        return f"ParticipantPeer({self.participant_id!r})"

    # -- state ---------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def connection_state(self) -> str:
        return self.pc.connectionState

    @property
    def publications(self) -> list[Publication]:
        return list(self._publications.values())

    @property
    def subscriptions(self) -> dict[Publication, ForwardedTrack]:
        return dict(self._forwarded)

    @property
    def negotiation_needed(self) -> bool:
        """Subscriptions wait for the participant's next offer (see receive_slots)."""
        return self._negotiation_needed

    def on_publication(self, listener: PublicationListener) -> None:
        """Call `listener` for each track this participant publishes, existing ones first."""
        self._listeners.append(listener)
        for publication in self.publications:
            listener(publication)

    # -- the participant's offer (what it publishes) ----------------------------------------

    async def handle_offer(self, offer: RTCSessionDescription) -> RTCSessionDescription:
        """Apply the participant's offer; return the answer (ICE candidates included)."""
        if offer.type != "offer":
            raise NegotiationError(f"expected an offer, got {offer.type!r}")
        async with self._lock:
            self._assert_open()
            if self.pc.signalingState != "stable":
                raise NegotiationError(f"offer while {self.pc.signalingState}")
            self._prepare_transceivers(SessionDescription.parse(offer.sdp))
            await self.pc.setRemoteDescription(offer)
            fresh = [self._tap(t) for t in self.pc.getTransceivers() if self._needs_tap(t)]
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            self._receive_directly()
            answer = self.pc.localDescription
            codecs = primary_codecs(answer)
            for mid, publication in fresh:
                publication.codec = codecs.get(mid)
                self._publications[mid] = publication
            self._negotiation_needed = bool(self._pending)
            for _, publication in fresh:
                self._announce(publication)
        self._signal_negotiation()
        return answer

    def _receive_directly(self) -> None:
        # Candidates are gathered by now: their protocols exist and can be hooked.
        for transceiver in self.pc.getTransceivers():
            direct_receive.install(transceiver.receiver.transport)

    def _prepare_transceivers(self, offer: SessionDescription) -> None:
        """One transceiver per new m-line, in m-line order, before aiortc applies the offer.

        aiortc binds each new m-line to the first unbound transceiver of the same kind, so
        creating them in order decides the binding: a recvonly m-line gets a pending
        subscription's sender, any other gets a receiver (a track the participant publishes).
        """
        known = {t.mid for t in self.pc.getTransceivers() if t.mid is not None}
        for media in offer.media:
            if media.kind not in ("audio", "video") or media.rtp.muxId in known:
                continue
            if (media.direction or "sendrecv") != "recvonly":
                self.pc.addTransceiver(media.kind, direction="recvonly")
                continue
            track = self._take_pending(media)
            if track is None:
                # Nothing to send on it (yet): answered inactive.
                self.pc.addTransceiver(media.kind, direction="inactive")
                continue
            codec = track.publication.codec
            assert codec is not None
            transceiver = self.pc.addTransceiver(track, direction="sendonly")
            # The subscriber must receive exactly the publisher's codec: no transcoding.
            transceiver.setCodecPreferences(codec_preferences(codec))
            relay_keyframe_requests(transceiver.sender)
            track.bind(transceiver.sender)
            self._senders[track] = transceiver

    def _take_pending(self, media: MediaDescription) -> ForwardedTrack | None:
        for track in self._pending:
            codec = track.publication.codec
            if track.kind != media.kind or codec is None:
                continue
            if not offers_codec(media, codec):
                logger.warning(
                    "%s cannot receive %s as %s: left pending",
                    self.participant_id,
                    track.publication,
                    codec.mime_type,
                )
                continue
            self._pending.remove(track)
            return track
        return None

    def _needs_tap(self, transceiver: RTCRtpTransceiver) -> bool:
        return (
            transceiver.mid is not None
            and transceiver.mid not in self._taps
            and transceiver.receiver.track is not None
        )

    def _tap(self, transceiver: RTCRtpTransceiver) -> tuple[str, Publication]:
        mid = transceiver.mid
        assert mid is not None
        kind = transceiver.kind
        track_id = transceiver.receiver.track.id
        publication: Publication | None = None
        continued: continuation.Continuation | None = None

        def on_frame(frame: EncodedFrame) -> None:
            assert publication is not None
            publication.publish(frame)

        def on_end() -> None:
            assert publication is not None
            if continued is not None:
                continued.close()
            self._publication_ended(mid, publication)

        tap = ReceiverTap(transceiver.receiver, kind, on_frame, on_end=on_end, track_id=track_id)
        publication = Publication(
            self.participant_id,
            kind,
            track_id,
            send_keyframe_request=tap.request_keyframe,
            keyframe_interval=self.keyframe_interval,
        )
        publication.transport = transceiver.receiver.transport
        tap.on_packet = publication.forward
        publication.on_demand(tap.set_frames_wanted)
        receiver = transceiver.receiver
        continued = continuation.install(
            receiver, core.router_of(receiver.transport), tap, publication
        )
        if kind == "video":
            self._video_publications.append(publication)
        self._taps[mid] = tap
        return mid, publication

    def _announce(self, publication: Publication) -> None:
        for stream in self._live_encoded_streams():
            publication.subscribe(stream)
        for listener in list(self._listeners):
            try:
                listener(publication)
            except Exception:
                logger.exception("publication listener failed")

    def _publication_ended(self, mid: str, publication: Publication) -> None:
        if self._publications.get(mid) is publication:
            del self._publications[mid]
        publication.close()

    # -- what the participant receives ---------------------------------------------------

    @property
    def receive_slots(self) -> list[str]:
        """Kinds of the recvonly transceivers the participant should add to its next offer."""
        return [track.kind for track in self._pending]

    def subscribe(self, publication: Publication) -> ForwardedTrack:
        """Forward `publication` to this participant, from its next offer on."""
        self._assert_open()
        if publication.participant_id == self.participant_id:
            raise ValueError("a participant does not receive its own tracks")
        existing = self._forwarded.get(publication)
        if existing is not None:
            return existing
        if publication.codec is None:
            raise ValueError(f"{publication} has no negotiated codec yet")
        track = ForwardedTrack(publication)
        self._forwarded[publication] = track
        self._pending.append(track)
        publication.on_close(self.unsubscribe)
        self._need_negotiation()
        return track

    def unsubscribe(self, publication: Publication) -> None:
        """Stop forwarding `publication`; its m-line is answered inactive from now on."""
        track = self._forwarded.pop(publication, None)
        if track is None:
            return
        track.stop()
        if track in self._pending:
            self._pending.remove(track)
            return
        transceiver = self._senders.pop(track, None)
        if transceiver is not None and not self._closed:
            # aiortc cannot recycle an m-line: it stays, inactive, until the peer closes.
            # The sender already stopped with its track; the participant learns it at its
            # next offer, which it need not hurry.
            transceiver.direction = "inactive"

    def _need_negotiation(self) -> None:
        # Raised once per batch: the next offer takes every pending subscription.
        if not self._negotiation_needed:
            self._negotiation_needed = True
            self._signal_negotiation()

    def _signal_negotiation(self) -> None:
        # Only once the participant's first offer has been answered: until then the
        # signaling layer can put receive_slots into that first offer.
        ready = not self._closed and self.pc.remoteDescription is not None
        if self._negotiation_needed and ready and self._on_negotiation_needed is not None:
            self._on_negotiation_needed(self)

    # -- taps for the recorder and identity ----------------------------------------------

    def subscribe_encoded(
        self, *, max_frames: int = 256, max_bytes: int = 16 * 1024 * 1024
    ) -> Subscription:
        """All this participant's encoded frames (every track, current and later), bounded.

        Video in it waits for a keyframe at the start and after a drop. It stays open when
        tracks end and is closed by its consumer or by close() of this peer.
        """
        self._assert_open()
        stream = Subscription(
            max_frames=max_frames,
            max_bytes=max_bytes,
            end_with_sources=False,
            name=f"{self.participant_id}:encoded",
        )
        for publication in self.publications:
            publication.subscribe(stream)
        self._encoded_streams.append(stream)
        return stream

    def open_decoded_video(
        self, *, fps: float, width: int | None = None, pixel_format: str = "rgb24"
    ) -> DecodedVideoTap:
        """Decoded pictures of this participant's video; the decoder lives as long as the tap."""
        self._assert_open()
        video = next((p for p in self.publications if p.kind == "video"), None)
        if video is None:
            raise LookupError(f"{self.participant_id} publishes no video")
        tap = DecodedVideoTap(video, fps=fps, width=width, pixel_format=pixel_format)
        self._decoded_taps.append(tap)
        return tap

    def _live_encoded_streams(self) -> list[Subscription]:
        self._encoded_streams = [s for s in self._encoded_streams if not s.closed]
        return list(self._encoded_streams)

    # -- stats and shutdown ------------------------------------------------------------------

    async def network_stats(self) -> NetworkStats:
        report = await self.pc.getStats()
        has_video = any(p.kind == "video" for p in self.publications)
        video_frames = sum(p.frames for p in self._video_publications)
        return self._stats.sample(report, video_frames, has_video)

    async def close(self) -> None:
        """Close the connection; this participant's publications end, subscribers notice."""
        if self._closed:
            return
        self._closed = True
        for track in list(self._forwarded.values()):
            track.stop()
        self._forwarded.clear()
        self._pending.clear()
        for tap in self._decoded_taps:
            await tap.close()
        self._decoded_taps.clear()
        await self.pc.close()
        # Receivers that never started send no end sentinel: end their publications here.
        for mid, publication in list(self._publications.items()):
            self._publication_ended(mid, publication)
        for stream in self._encoded_streams:
            stream.close()
        self._encoded_streams.clear()
        self._listeners.clear()

    def _assert_open(self) -> None:
        if self._closed:
            raise NegotiationError(f"{self!r} is closed")

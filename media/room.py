"""Who receives whom: in a media room every participant receives every other's tracks."""

from __future__ import annotations

from media.fanout import Publication
from media.peer import ParticipantPeer


class MediaRoom:
    """Wires publications to subscriptions between the peers of one session.

    Renegotiation is left to each peer's `on_negotiation_needed` callback (signaling sends
    the server's offer and brings back the answer).
    """

    def __init__(self, room_id: str) -> None:
        self.room_id = room_id
        self._peers: dict[str, ParticipantPeer] = {}

    @property
    def peers(self) -> list[ParticipantPeer]:
        return list(self._peers.values())

    def get(self, participant_id: str) -> ParticipantPeer | None:
        return self._peers.get(participant_id)

    def add(self, peer: ParticipantPeer) -> None:
        if peer.participant_id in self._peers:
            raise ValueError(f"{peer.participant_id} is already in room {self.room_id}")
        self._peers[peer.participant_id] = peer
        for other in self.peers:
            if other is not peer:
                for publication in other.publications:
                    peer.subscribe(publication)
        peer.on_publication(lambda publication: self._published(peer, publication))

    def _published(self, publisher: ParticipantPeer, publication: Publication) -> None:
        if self._peers.get(publisher.participant_id) is not publisher:
            return
        for other in self.peers:
            if other is not publisher and not other.closed:
                other.subscribe(publication)

    async def remove(self, participant_id: str) -> None:
        """Close a participant's peer; the others' forwarded tracks of it end with it."""
        peer = self._peers.pop(participant_id, None)
        if peer is not None:
            await peer.close()

    async def close(self) -> None:
        for participant_id in list(self._peers):
            await self.remove(participant_id)

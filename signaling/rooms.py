"""Rooms of a scheduled interview: who is invited, who waits in the lobby, who is in the call.

Pure state and rules, no I/O: the WebSocket layer calls these methods and sends the events they
return. Only the notary admits, removes, mutes others, starts and ends; observers only watch.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

MAX_PARTICIPANTS = 4  # applicant, notary, site officer, observer


class ParticipantRole(StrEnum):
    APPLICANT = "applicant"
    NOTARY = "notary"
    SITE_OFFICER = "site_officer"
    OBSERVER = "observer"

    @property
    def publishes(self) -> bool:
        return self is not ParticipantRole.OBSERVER


class Presence(StrEnum):
    INVITED = "invited"  # has a link, not here yet
    PREPARING = "preparing"  # connected, not yet consented to the recording: not in the lobby
    WAITING = "waiting"  # in the lobby
    ADMITTED = "admitted"  # in the call
    RECONNECTING = "reconnecting"  # admitted, connection lost, inside the grace period
    LEFT = "left"
    REMOVED = "removed"


class SessionState(StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"


class RoomError(Exception):
    """A request the rules refuse; `code` is what the client sees."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Participant:
    id: str
    role: ParticipantRole
    name: str
    presence: Presence = Presence.INVITED
    audio_muted: bool = False
    video_muted: bool = False
    was_admitted: bool = False  # a reconnect returns straight to the call, not the lobby
    waiting_since: float | None = None  # when it entered the lobby: pages show the queue order
    lost_at: float | None = None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "role": self.role.value,
            "name": self.name,
            "presence": self.presence.value,
            "audio_muted": self.audio_muted,
            "video_muted": self.video_muted,
            "waiting_since": self.waiting_since,
        }


Event = dict[str, Any]


@dataclass
class Room:
    id: str
    title: str
    case_ref: str
    office_id: int | None
    created_by: str
    scheduled_at: float
    grace_seconds: float = 60.0
    retention_class: str = "long"  # how long the recording is kept (recorder.retention)
    state: SessionState = SessionState.SCHEDULED
    participants: dict[str, Participant] = field(default_factory=dict)
    clock: Callable[[], float] = time.time

    # --- lookups --------------------------------------------------------------------------

    def participant(self, participant_id: str) -> Participant:
        found = self.participants.get(participant_id)
        if found is None:
            raise RoomError("unknown_participant", "no such participant in this session")
        return found

    def in_call(self) -> list[Participant]:
        return [
            p
            for p in self.participants.values()
            if p.presence in (Presence.ADMITTED, Presence.RECONNECTING)
        ]

    def waiting(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.presence is Presence.WAITING]

    def snapshot(self) -> Event:
        return {
            "type": "room",
            "room": {
                "id": self.id,
                "title": self.title,
                "state": self.state.value,
                "participants": [p.public() for p in self.participants.values()],
            },
        }

    # --- invitations ----------------------------------------------------------------------

    def invite(self, role: ParticipantRole, name: str) -> Participant:
        if len(self.participants) >= MAX_PARTICIPANTS:
            raise RoomError("room_full", f"a session has at most {MAX_PARTICIPANTS} participants")
        if role is ParticipantRole.NOTARY and any(
            p.role is ParticipantRole.NOTARY for p in self.participants.values()
        ):
            raise RoomError("duplicate_notary", "a session has one notary")
        participant = Participant(id=f"p-{secrets.token_hex(6)}", role=role, name=name)
        self.participants[participant.id] = participant
        return participant

    # --- arriving and leaving -------------------------------------------------------------

    def arrive(self, participant_id: str) -> list[Event]:
        """A participant's connection authenticated. Returns events for everyone."""
        participant = self.participant(participant_id)
        if self.state is SessionState.ENDED:
            raise RoomError("session_ended", "this session has ended")
        if participant.presence is Presence.REMOVED:
            raise RoomError("removed", "the notary removed you from this session")
        if participant.presence is Presence.RECONNECTING:
            participant.presence = Presence.ADMITTED
            participant.lost_at = None
            return [{"type": "participant_back", "participant": participant.public()}]
        if participant.was_admitted and participant.presence is Presence.LEFT:
            # Admitted once by the notary: coming back after leaving skips the lobby.
            return self._admit(participant)
        if participant.presence is Presence.ADMITTED:  # a second tab replaces the first
            return []
        if participant.role is ParticipantRole.NOTARY:
            return self._admit(participant)
        if participant.presence is Presence.WAITING:
            return []  # a second tab, still in the lobby
        # Into the lobby only after consenting to the recording (see `ready`).
        participant.presence = Presence.PREPARING
        return []

    def ready(self, participant_id: str) -> list[Event]:
        """The participant consented to the recording: from now on in the lobby."""
        participant = self.participant(participant_id)
        if participant.presence is not Presence.PREPARING:
            return []
        participant.presence = Presence.WAITING
        participant.waiting_since = self.clock()
        return [{"type": "lobby", "participant": participant.public()}]

    def connection_lost(self, participant_id: str) -> list[Event]:
        participant = self.participant(participant_id)
        if participant.presence is Presence.ADMITTED:
            participant.presence = Presence.RECONNECTING
            participant.lost_at = self.clock()
            return [
                {
                    "type": "participant_reconnecting",
                    "participant": participant.public(),
                    "grace_seconds": self.grace_seconds,
                }
            ]
        if participant.presence is Presence.WAITING:
            participant.presence = Presence.INVITED
            return [{"type": "participant_left", "participant": participant.public()}]
        if participant.presence is Presence.PREPARING:
            participant.presence = Presence.INVITED  # never announced: nothing to tell
        return []

    def expire_reconnects(self) -> list[Event]:
        """Those still away after the grace period have left."""
        now = self.clock()
        events: list[Event] = []
        for participant in self.participants.values():
            lost = participant.lost_at
            away = participant.presence is Presence.RECONNECTING and lost is not None
            if away and now - (lost or now) >= self.grace_seconds:
                participant.presence = Presence.LEFT
                participant.lost_at = None
                events.append({"type": "participant_left", "participant": participant.public()})
        return events

    def leave(self, participant_id: str) -> list[Event]:
        participant = self.participant(participant_id)
        if participant.presence in (Presence.LEFT, Presence.REMOVED, Presence.INVITED):
            return []
        participant.presence = Presence.LEFT
        participant.lost_at = None
        return [{"type": "participant_left", "participant": participant.public()}]

    # --- the notary's powers --------------------------------------------------------------

    def _require_notary(self, actor_id: str) -> None:
        if self.participant(actor_id).role is not ParticipantRole.NOTARY:
            raise RoomError("forbidden", "only the notary may do this")

    def _admit(self, participant: Participant) -> list[Event]:
        participant.presence = Presence.ADMITTED
        participant.was_admitted = True
        return [{"type": "participant_joined", "participant": participant.public()}]

    def admit(self, actor_id: str, participant_id: str) -> list[Event]:
        self._require_notary(actor_id)
        participant = self.participant(participant_id)
        if participant.presence is not Presence.WAITING:
            raise RoomError("not_waiting", "this participant is not in the lobby")
        return self._admit(participant)

    def remove(self, actor_id: str, participant_id: str) -> list[Event]:
        self._require_notary(actor_id)
        if actor_id == participant_id:
            raise RoomError("forbidden", "the notary ends the session instead")
        participant = self.participant(participant_id)
        participant.presence = Presence.REMOVED
        participant.lost_at = None
        return [{"type": "participant_removed", "participant": participant.public()}]

    def start(self, actor_id: str) -> list[Event]:
        self._require_notary(actor_id)
        if self.state is not SessionState.SCHEDULED:
            raise RoomError("bad_state", f"the session is {self.state.value}")
        self.state = SessionState.LIVE
        return [{"type": "session_state", "state": self.state.value}]

    def end(self, actor_id: str) -> list[Event]:
        self._require_notary(actor_id)
        if self.state is SessionState.ENDED:
            raise RoomError("bad_state", "the session has ended already")
        self.state = SessionState.ENDED
        return [{"type": "session_state", "state": self.state.value}]

    def set_muted(
        self, actor_id: str, participant_id: str, audio: bool | None, video: bool | None
    ) -> list[Event]:
        """Anyone mutes themselves; only the notary mutes others, and may not unmute them."""
        if actor_id != participant_id:
            self._require_notary(actor_id)
            if audio is False or video is False:
                raise RoomError("forbidden", "only the participant may unmute themselves")
        participant = self.participant(participant_id)
        if participant.presence is not Presence.ADMITTED:
            raise RoomError("not_in_call", "this participant is not in the call")
        if audio is not None:
            participant.audio_muted = audio
        if video is not None:
            participant.video_muted = video
        return [
            {
                "type": "mute_state",
                "participant": participant.public(),
                "by": actor_id,
            }
        ]


class RoomRegistry:
    """The rooms this node holds (one node; several nodes pin a room to one node via Redis)."""

    def __init__(self, max_rooms: int = 500) -> None:
        self.max_rooms = max_rooms
        self._rooms: dict[str, Room] = {}

    def create(self, **fields: Any) -> Room:
        live = [r for r in self._rooms.values() if r.state is not SessionState.ENDED]
        if len(live) >= self.max_rooms:
            raise RoomError("too_many_rooms", "this node holds as many sessions as it can")
        for room_id in [k for k, r in self._rooms.items() if r.state is SessionState.ENDED]:
            del self._rooms[room_id]  # ended rooms live on in the evidence, not in memory
        room = Room(id=f"r-{secrets.token_hex(8)}", **fields)
        self._rooms[room.id] = room
        return room

    def get(self, room_id: str) -> Room | None:
        return self._rooms.get(room_id)

    def for_case(self, case_ref: str) -> list[Room]:
        """The rooms opened for `case_ref`, the newest first."""
        return [room for room in reversed(self._rooms.values()) if room.case_ref == case_ref]

    def __len__(self) -> int:
        return len(self._rooms)

import pytest

from signaling.rooms import (
    MAX_PARTICIPANTS,
    ParticipantRole,
    Presence,
    Room,
    RoomError,
    RoomRegistry,
    SessionState,
)

pytestmark = pytest.mark.unit


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def room(clock: Clock) -> Room:
    return Room(
        id="r-1",
        title="Interview",
        case_ref="C-1",
        office_id=1,
        created_by="acc-1",
        scheduled_at=0,
        grace_seconds=60,
        clock=clock,
    )


def _types(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


def _to_lobby(room: Room, participant_id: str) -> None:
    room.arrive(participant_id)
    room.ready(participant_id)


def test_notary_is_admitted_on_arrival_others_wait_in_the_lobby_after_consent(room: Room) -> None:
    notary = room.invite(ParticipantRole.NOTARY, "李")
    applicant = room.invite(ParticipantRole.APPLICANT, "张")
    assert room.arrive(applicant.id) == []  # connected, reading the consent: not announced
    assert applicant.presence is Presence.PREPARING and room.waiting() == []
    with pytest.raises(RoomError, match="not in the lobby"):
        room.admit(notary.id, applicant.id)
    assert _types(room.ready(applicant.id)) == ["lobby"]
    assert room.ready(applicant.id) == []  # once
    assert room.waiting() == [applicant]
    assert _types(room.arrive(notary.id)) == ["participant_joined"]
    assert _types(room.admit(notary.id, applicant.id)) == ["participant_joined"]
    assert {p.id for p in room.in_call()} == {notary.id, applicant.id}


def test_only_the_notary_admits_removes_starts_ends_and_mutes_others(room: Room) -> None:
    notary = room.invite(ParticipantRole.NOTARY, "李")
    applicant = room.invite(ParticipantRole.APPLICANT, "张")
    officer = room.invite(ParticipantRole.SITE_OFFICER, "王")
    room.arrive(notary.id)
    _to_lobby(room, applicant.id)
    _to_lobby(room, officer.id)
    for action in (
        lambda: room.admit(applicant.id, officer.id),
        lambda: room.remove(applicant.id, officer.id),
        lambda: room.start(officer.id),
        lambda: room.end(applicant.id),
    ):
        with pytest.raises(RoomError) as refused:
            action()
        assert refused.value.code == "forbidden"
    room.admit(notary.id, applicant.id)
    room.admit(notary.id, officer.id)
    with pytest.raises(RoomError, match="only the notary"):
        room.set_muted(officer.id, applicant.id, audio=True, video=None)
    room.set_muted(notary.id, applicant.id, audio=True, video=None)
    assert applicant.audio_muted
    with pytest.raises(RoomError, match="only the participant may unmute"):
        room.set_muted(notary.id, applicant.id, audio=False, video=None)
    room.set_muted(applicant.id, applicant.id, audio=False, video=True)
    assert (applicant.audio_muted, applicant.video_muted) == (False, True)
    assert _types(room.start(notary.id)) == ["session_state"]
    assert room.state is SessionState.LIVE
    room.end(notary.id)
    with pytest.raises(RoomError, match="ended"):
        _to_lobby(room, applicant.id)


def test_reconnect_within_grace_returns_to_the_call(room: Room, clock: Clock) -> None:
    notary = room.invite(ParticipantRole.NOTARY, "李")
    applicant = room.invite(ParticipantRole.APPLICANT, "张")
    room.arrive(notary.id)
    _to_lobby(room, applicant.id)
    room.admit(notary.id, applicant.id)
    assert _types(room.connection_lost(applicant.id)) == ["participant_reconnecting"]
    clock.now += 59
    assert room.expire_reconnects() == []
    assert _types(room.arrive(applicant.id)) == ["participant_back"]
    assert applicant.presence is Presence.ADMITTED


def test_grace_period_over_means_left_and_rejoin_skips_the_lobby(room: Room, clock: Clock) -> None:
    notary = room.invite(ParticipantRole.NOTARY, "李")
    applicant = room.invite(ParticipantRole.APPLICANT, "张")
    room.arrive(notary.id)
    _to_lobby(room, applicant.id)
    room.admit(notary.id, applicant.id)
    room.connection_lost(applicant.id)
    clock.now += 61
    assert _types(room.expire_reconnects()) == ["participant_left"]
    assert applicant.presence is Presence.LEFT
    assert _types(room.arrive(applicant.id)) == ["participant_joined"]


def test_removed_participant_cannot_come_back(room: Room) -> None:
    notary = room.invite(ParticipantRole.NOTARY, "李")
    observer = room.invite(ParticipantRole.OBSERVER, "督")
    room.arrive(notary.id)
    _to_lobby(room, observer.id)
    room.remove(notary.id, observer.id)
    with pytest.raises(RoomError) as refused:
        _to_lobby(room, observer.id)
    assert refused.value.code == "removed"


def test_room_size_and_single_notary(room: Room) -> None:
    room.invite(ParticipantRole.NOTARY, "李")
    with pytest.raises(RoomError, match="one notary"):
        room.invite(ParticipantRole.NOTARY, "二")
    for _ in range(MAX_PARTICIPANTS - 1):
        room.invite(ParticipantRole.OBSERVER, "x")
    with pytest.raises(RoomError) as refused:
        room.invite(ParticipantRole.OBSERVER, "y")
    assert refused.value.code == "room_full"
    assert not ParticipantRole.OBSERVER.publishes


def test_registry_is_bounded_and_forgets_ended_rooms() -> None:
    registry = RoomRegistry(max_rooms=2)
    fields = dict(title="t", case_ref="c", office_id=1, created_by="a", scheduled_at=0)
    first = registry.create(**fields)
    registry.create(**fields)
    with pytest.raises(RoomError) as refused:
        registry.create(**fields)
    assert refused.value.code == "too_many_rooms"
    notary = first.invite(ParticipantRole.NOTARY, "n")
    first.arrive(notary.id)
    first.end(notary.id)
    registry.create(**fields)
    assert registry.get(first.id) is None
    assert len(registry) == 2


def test_the_lobby_is_stamped_in_arrival_order(room: Room, clock: Clock) -> None:
    first = room.invite(ParticipantRole.APPLICANT, "张")
    second = room.invite(ParticipantRole.SITE_OFFICER, "王")
    for participant in (second, first):  # invited in one order, arriving in the other
        room.arrive(participant.id)
        clock.now += 1
        room.ready(participant.id)
    stamps = {p.name: p.public()["waiting_since"] for p in room.waiting()}
    assert stamps["王"] < stamps["张"]

import time

import jwt
import pytest

from signaling.tokens import TokenError, TokenSigner

pytestmark = pytest.mark.unit

SECRET = "s" * 48


@pytest.fixture
def signer() -> TokenSigner:
    return TokenSigner(SECRET)


def test_join_token_round_trip(signer: TokenSigner) -> None:
    token = signer.issue_join("room-1", "p-1", "applicant", "张三", ttl=600)
    claims = signer.verify_join(token, room_id="room-1")
    assert (claims.room_id, claims.participant_id, claims.role, claims.name) == (
        "room-1",
        "p-1",
        "applicant",
        "张三",
    )
    assert claims.expires_at - time.time() == pytest.approx(600, abs=5)


def test_expired_token_is_refused(signer: TokenSigner) -> None:
    token = signer.issue_join("room-1", "p-1", "applicant", "x", ttl=-120)
    with pytest.raises(TokenError) as refused:
        signer.verify_join(token)
    assert refused.value.code == "token_expired"


def test_wrong_room_is_refused(signer: TokenSigner) -> None:
    token = signer.issue_join("room-1", "p-1", "applicant", "x", ttl=600)
    with pytest.raises(TokenError) as refused:
        signer.verify_join(token, room_id="room-2")
    assert refused.value.code == "wrong_room"


def test_forged_tokens_are_refused(signer: TokenSigner) -> None:
    genuine = signer.issue_join("room-1", "p-1", "applicant", "x", ttl=600)
    other_key = TokenSigner("o" * 48).issue_join("room-1", "p-1", "notary", "x", ttl=600)
    header, payload, signature = genuine.split(".")
    tampered_payload = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(payload).replace(b"applicant", b"notary\x20\x20\x20")
    ).decode()
    unsigned = jwt.encode(
        {
            "iss": "notarylink",
            "aud": "notarylink:join",
            "sub": "p",
            "room": "room-1",
            "role": "notary",
            "exp": time.time() + 600,
            "iat": time.time(),
            "jti": "x",
        },
        key=None,
        algorithm="none",
    )
    for forged in (
        other_key,
        f"{header}.{tampered_payload}.{signature}",
        unsigned,
        "",
        "not.a.token",
        "x" * 5000,
    ):
        with pytest.raises(TokenError) as refused:
            signer.verify_join(forged)
        assert refused.value.code == "token_invalid", forged[:40]


def test_a_join_token_is_not_a_session_and_vice_versa(signer: TokenSigner) -> None:
    join = signer.issue_join("room-1", "p-1", "notary", "x", ttl=600)
    session = signer.issue_session("acc-1", "notary", 1, ttl=600)
    with pytest.raises(TokenError):
        signer.verify_session(join)
    with pytest.raises(TokenError):
        signer.verify_join(session)
    claims = signer.verify_session(session)
    assert (claims.account_id, claims.role, claims.office_id) == ("acc-1", "notary", 1)


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        TokenSigner("short")

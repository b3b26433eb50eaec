import pytest

from notary.passwords import WeakPassword, check_strength, hash_password, verify_password

pytestmark = pytest.mark.unit


def test_hash_is_argon2id_salted_and_verifies() -> None:
    first = hash_password("correct horse battery")
    second = hash_password("correct horse battery")
    assert first.startswith("$argon2id$")
    assert first != second  # salted
    assert verify_password(first, "correct horse battery")
    assert not verify_password(first, "correct horse battery!")


@pytest.mark.parametrize("weak", ["short", "aaaaaaaaaaaaaaa", "abababababab", "x" * 2000])
def test_weak_passwords_are_refused(weak: str) -> None:
    with pytest.raises(WeakPassword):
        check_strength(weak)


def test_verify_tolerates_missing_and_corrupt_hashes() -> None:
    assert not verify_password(None, "anything at all")
    assert not verify_password("$argon2id$garbage", "anything at all")
    assert not verify_password("plaintext", "plaintext")

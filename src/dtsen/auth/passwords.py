"""Password and client-secret hashing (argon2id through argon2-cffi) and the password policy.

The library's defaults are RFC 9106's low-memory profile (argon2id, t=3, m=64 MiB, p=4); hashes made
under older parameters are upgraded at the next successful login (:func:`needs_rehash`). Unknown users are
checked against a dummy hash so a login takes as long for a name that does not exist as for a wrong
password.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 1024  # argon2 takes any length; this bounds the work one request can ask for


class PasswordPolicyError(ValueError):
    """A password the policy refuses; the message (Bahasa) says why and can be shown to the user."""


@cache
def hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id, RFC 9106 low-memory parameters


def hash_secret(secret: str) -> str:
    """The argon2id hash (PHC string, salt and parameters included) of a password or client secret."""
    return hasher().hash(secret)


def verify_secret(stored_hash: str, secret: str) -> bool:
    """Whether ``secret`` matches ``stored_hash``; a malformed stored hash never matches."""
    try:
        return hasher().verify(stored_hash, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than the current ones."""
    try:
        return hasher().check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


@cache
def _dummy_hash() -> str:
    return hash_secret("dtsen: no such account, compared only to spend the same time")


def burn_verification(secret: str) -> None:
    """Spend one verification's time on a secret that belongs to no account (no user enumeration)."""
    verify_secret(_dummy_hash(), secret)


def check_password_policy(password: str, *, username: str) -> None:
    """Raise :class:`PasswordPolicyError` unless the password is at least 12 characters, not absurdly long,
    not all one character and does not contain the username."""
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(f"Kata sandi minimal {MIN_LENGTH} karakter.")
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(f"Kata sandi maksimal {MAX_LENGTH} karakter.")
    if len(set(password)) == 1:
        raise PasswordPolicyError("Kata sandi tidak boleh terdiri dari satu karakter yang diulang.")
    if username and username.casefold() in password.casefold():
        raise PasswordPolicyError("Kata sandi tidak boleh memuat nama pengguna.")

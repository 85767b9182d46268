"""Password hashing (scrypt from the standard library) and random tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# scrypt parameters: N=2**15, r=8, p=1 needs 32 MiB and ~0.1 s per check — slow for guessing, fine for logins
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 15, 8, 1
_MAXMEM = 64 * 1024 * 1024


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def hash_password(password: str) -> str:
    """'scrypt$N$r$p$salt$hash' (base64); a fresh 16-byte salt per password."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=_MAXMEM,
                            dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        algo, n, r, p, salt, digest = stored.split("$")
        if algo != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             maxmem=_MAXMEM, dklen=len(base64.b64decode(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """Sessions are stored by the SHA-256 of their cookie value, so a copy of the app DB cannot be replayed."""
    return hashlib.sha256(token.encode()).hexdigest()


def password_problem(password: str, username: str | None = None) -> tuple[str, str] | None:
    """The password policy of every account (new users, resets, password changes): at least 8 characters and
    not the username. Returns (zh, en) of the first problem, or None."""
    if len(password) < 8:
        return ("密码至少 8 位", "password must have at least 8 characters")
    if username and password.strip().lower() == username.strip().lower():
        return ("密码不能与用户名相同", "the password must not be the username")
    return None

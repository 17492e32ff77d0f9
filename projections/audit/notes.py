"""C2SP signed notes and tlog checkpoints, signed with an Ed25519 key kept in a file.

Follows c2sp.org/signed-note and c2sp.org/tlog-checkpoint byte for byte (the reference
implementation is golang.org/x/mod/sumdb/note), so that any auditor's tooling for those
formats can check the ledger's checkpoints with nothing but the published verifier key:

    <origin>
    <tree size>
    <base64 root hash>

    — <key name> <base64(4-byte key id ‖ 64-byte Ed25519 signature)>

The private key never enters the database: it lives in a PKCS#8 PEM file created with
mode 0600 on first use.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519_TYPE = 0x01
"""The signature type byte of Ed25519 in c2sp.org/signed-note."""

SIGNATURE_PREFIX = "\u2014 "
"""A signature line starts with an em dash and a space."""

MAX_SIGNATURES = 100
"""More signature lines than this make a note malformed (C2SP: verifiers must accept 16)."""

HASH_SIZE = 32

# How long a process that lost the race to create the key file waits for the winner to
# finish writing it.
KEY_FILE_WAIT_SECONDS = 5.0
_KEY_FILE_POLL_SECONDS = 0.01

_PEM_BEGIN = b"-----BEGIN"
_PEM_END = b"-----END"
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_KEY_ID_HEX = re.compile(r"[0-9a-f]{8}")


class NoteError(Exception):
    """A signed note, checkpoint, verifier key or key file that is malformed or does not verify."""


@dataclass(frozen=True)
class VerifierKey:
    """A parsed verifier key: who signs (name), which key (key_id) and the Ed25519 public key."""

    name: str
    key_id: bytes
    public_key: bytes

    def __str__(self) -> str:
        return verifier_key(self.name, self.public_key)


@dataclass(frozen=True)
class Checkpoint:
    """The text of a tlog checkpoint: a log's tree size and root hash under its origin."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()


def _is_valid_name(name: object) -> bool:
    # C2SP: non-empty, no Unicode spaces, no '+'; and, being in a note, no control characters.
    return (
        isinstance(name, str)
        and name != ""
        and "+" not in name
        and not any(c.isspace() or ord(c) < 0x20 or 0xD800 <= ord(c) <= 0xDFFF for c in name)
    )


def _check_name(name: object) -> None:
    if not _is_valid_name(name):
        raise NoteError(f"invalid key name {name!r}: it must be non-empty, without spaces, '+' or control characters")


def _check_public_key(public_key: object) -> bytes:
    if not isinstance(public_key, bytes) or len(public_key) != 32:
        raise NoteError("an Ed25519 public key is 32 bytes")
    return public_key


def _decode_base64(text: str) -> bytes | None:
    """Standard base64, strictly: the only accepted spelling is the one encoding gives back.

    Without the round trip, a changed last character can decode to the same bytes, and a
    note could be altered without its signature noticing.
    """
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    if base64.b64encode(raw).decode("ascii") != text:
        return None
    return raw


def _check_note_characters(text: str, what: str) -> None:
    # C2SP: valid UTF-8 with no ASCII control characters but newline.
    for c in text:
        code = ord(c)
        if code < 0x20 and c != "\n":
            raise NoteError(f"{what} holds control character U+{code:04X}")
        if 0xD800 <= code <= 0xDFFF:
            raise NoteError(f"{what} holds a lone surrogate U+{code:04X}: not UTF-8")


def key_id(name: str, public_key: bytes) -> bytes:
    """C2SP key ID: the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ Ed25519 public key)."""
    _check_name(name)
    _check_public_key(public_key)
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ED25519_TYPE]) + public_key).digest()[:4]


def verifier_key(name: str, public_key: bytes) -> str:
    """The verifier key text `<name>+<key id hex>+<base64(0x01 ‖ public key)>`."""
    encoded = base64.b64encode(bytes([ED25519_TYPE]) + _check_public_key(public_key)).decode("ascii")
    return f"{name}+{key_id(name, public_key).hex()}+{encoded}"


def parse_verifier_key(text: str) -> VerifierKey:
    """Parse and check a verifier key; NoteError says what is wrong with it.

    Whitespace around it is ignored (a key read from a file ends in a newline).
    """
    if not isinstance(text, str):
        raise NoteError("a verifier key is text")
    text = text.strip()
    # The base64 part may itself hold '+', so split off only the first two fields.
    name, plus1, rest = text.partition("+")
    hex_id, plus2, encoded = rest.partition("+")
    if not plus1 or not plus2:
        raise NoteError("a verifier key reads <name>+<key id>+<key>")
    _check_name(name)
    if not _KEY_ID_HEX.fullmatch(hex_id):
        raise NoteError(f"the key id {hex_id!r} is not 8 lowercase hex digits")
    raw = _decode_base64(encoded)
    if raw is None or len(raw) == 0:
        raise NoteError("the key is not in standard base64")
    if raw[0] != ED25519_TYPE:
        raise NoteError(f"unknown signature type 0x{raw[0]:02x}: only Ed25519 (0x01) is known")
    public_key = raw[1:]
    if len(public_key) != 32:
        raise NoteError(f"an Ed25519 public key is 32 bytes, not {len(public_key)}")
    expected = key_id(name, public_key)
    if bytes.fromhex(hex_id) != expected:
        raise NoteError(f"the key id {hex_id} does not match the name and key (expected {expected.hex()})")
    return VerifierKey(name=name, key_id=expected, public_key=public_key)


class SigningKey:
    """An Ed25519 private key with the name its signatures are made under."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        _check_name(name)
        if not isinstance(private_key, Ed25519PrivateKey):
            raise NoteError("a signing key is an Ed25519 private key")
        self._name = name
        self._private_key = private_key
        self._public_key = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self._key_id = key_id(name, self._public_key)

    @property
    def name(self) -> str:
        return self._name

    @property
    def public_key(self) -> bytes:
        """The 32-byte raw Ed25519 public key."""
        return self._public_key

    @property
    def key_id(self) -> bytes:
        return self._key_id

    @property
    def verifier_key(self) -> str:
        """What auditors are given to check this key's notes: `<name>+<id>+<key>`."""
        return verifier_key(self._name, self._public_key)

    def __repr__(self) -> str:
        # Never the private key, not even in a traceback.
        return f"SigningKey({self.verifier_key!r})"

    @classmethod
    def generate(cls, name: str) -> SigningKey:
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, path: Path, name: str) -> SigningKey:
        """The key in the PEM file at `path`, created (mode 0600) if there is none yet.

        O_CREAT|O_EXCL with mode 0600 means the file is never readable by others, not even
        for an instant, and of two processes starting together exactly one creates it; the
        other reads the winner's key.
        """
        _check_name(name)
        path = Path(path)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return cls(name, _read_private_key(path))
        private_key = Ed25519PrivateKey.generate()
        pem = private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(pem)
                file.flush()
                os.fsync(file.fileno())
        except BaseException:
            # An empty or partial key file would make every later start fail.
            path.unlink(missing_ok=True)
            raise
        return cls(name, private_key)

    def sign(self, message: bytes) -> bytes:
        """The raw 64-byte Ed25519 signature of `message`."""
        return self._private_key.sign(message)

    def sign_note(self, text: str) -> str:
        """The signed note: `text`, a blank line, and this key's signature line."""
        _check_note_text(text)
        signature = self._key_id + self.sign(text.encode("utf-8"))
        return f"{text}\n{SIGNATURE_PREFIX}{self._name} {base64.b64encode(signature).decode('ascii')}\n"


def _check_note_text(text: object) -> None:
    if not isinstance(text, str):
        raise NoteError("a note's text is a string")
    if not text.endswith("\n"):
        raise NoteError("a note's text must end with a newline")
    _check_note_characters(text, "the note's text")


def _read_private_key(path: Path) -> Ed25519PrivateKey:
    deadline = time.monotonic() + KEY_FILE_WAIT_SECONDS
    while True:
        data = path.read_bytes()
        # Empty, or a PEM without its end line: the process that created the file is still
        # writing it. Anything else is read (and judged) at once.
        being_written = (_PEM_BEGIN.startswith(data) or data.startswith(_PEM_BEGIN)) and _PEM_END not in data
        if not being_written or time.monotonic() >= deadline:
            break
        time.sleep(_KEY_FILE_POLL_SECONDS)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise NoteError(f"{path} is not an unencrypted PEM private key: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise NoteError(f"{path} holds a {type(key).__name__.lstrip('_')}, not an Ed25519 private key")
    return key


def open_note(note: str, verifier: VerifierKey | str) -> str:
    """The text of `note` once a signature by `verifier` is found valid on it.

    Signatures by other keys are ignored, as C2SP requires. NoteError if the note is
    malformed, if this key's signature does not verify, or if there is none.
    """
    key = parse_verifier_key(verifier) if isinstance(verifier, str) else verifier
    if not isinstance(note, str):
        raise NoteError("a note is a string")
    _check_note_characters(note, "the note")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("no blank line separates the note's text from its signatures")
    text, signatures = note[: split + 1], note[split + 2 :]
    if not signatures.endswith("\n"):
        raise NoteError("a note ends with a signature line and a newline")
    lines = signatures[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"more than {MAX_SIGNATURES} signatures")
    public_key = Ed25519PublicKey.from_public_bytes(key.public_key)
    verified = False
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError(f"not a signature line: {line!r}")
        name, space, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        raw = _decode_base64(encoded)
        if not space or not _is_valid_name(name) or raw is None or len(raw) < 5:
            raise NoteError(f"malformed signature line: {line!r}")
        if name != key.name or raw[:4] != key.key_id:
            continue  # someone else's signature (a witness, an older key): not ours to judge
        try:
            public_key.verify(raw[4:], text.encode("utf-8"))
        except InvalidSignature:
            # C2SP: a failing signature by a known key should reject the whole note.
            raise NoteError(f"the signature by {key.name}+{key.key_id.hex()} does not verify") from None
        verified = True
    if not verified:
        raise NoteError(f"the note carries no signature by {key.name}+{key.key_id.hex()}")
    return text


def checkpoint_text(origin: str, size: int, root_hash: bytes) -> str:
    """The checkpoint body `<origin>\\n<size>\\n<base64 root>\\n`."""
    if not isinstance(origin, str) or origin == "" or "\n" in origin:
        raise NoteError(f"invalid origin {origin!r}: it is one non-empty line")
    _check_note_characters(origin, "the origin")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise NoteError(f"invalid tree size {size!r}")
    if not isinstance(root_hash, bytes) or len(root_hash) != HASH_SIZE:
        raise NoteError("a root hash is 32 bytes")
    return f"{origin}\n{size}\n{base64.b64encode(root_hash).decode('ascii')}\n"


def sign_checkpoint(key: SigningKey, origin: str, size: int, root_hash: bytes) -> str:
    """The signed checkpoint note for the tree (size, root_hash) of the log `origin`."""
    return key.sign_note(checkpoint_text(origin, size, root_hash))


def parse_checkpoint_text(text: str) -> Checkpoint:
    """Parse a checkpoint body strictly (c2sp.org/tlog-checkpoint)."""
    if not isinstance(text, str) or not text.endswith("\n"):
        raise NoteError("a checkpoint ends with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("a checkpoint has an origin, a tree size and a root hash line")
    if any(line == "" for line in lines):
        raise NoteError("a checkpoint has no empty lines")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not _DECIMAL.fullmatch(size_text):
        raise NoteError(f"tree size {size_text!r} is not a decimal number without leading zeros")
    size = int(size_text)
    if size >= 2**64:
        raise NoteError(f"tree size {size_text} is beyond 64 bits")
    root_hash = _decode_base64(root_text)
    if root_hash is None or len(root_hash) != HASH_SIZE:
        raise NoteError(f"root hash {root_text!r} is not 32 bytes in standard base64")
    return Checkpoint(origin=origin, size=size, root_hash=root_hash, extensions=tuple(lines[3:]))


def verify_checkpoint(note: str, verifier: VerifierKey | str, origin: str | None = None) -> Checkpoint:
    """The checkpoint in `note`, once signed by `verifier` (and of log `origin`, if given)."""
    checkpoint = parse_checkpoint_text(open_note(note, verifier))
    if origin is not None and checkpoint.origin != origin:
        raise NoteError(f"the checkpoint is for log {checkpoint.origin!r}, not {origin!r}")
    return checkpoint

"""C2SP signed notes, checkpoints and the key file (projections.audit.notes).

Checked against the reference implementation's published outputs (golang.org/x/mod/sumdb/note),
the C2SP specification's own example, and an independent verifier written below from the
C2SP text alone.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import threading
import time
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.audit import notes
from projections.audit.notes import (
    Checkpoint,
    NoteError,
    SigningKey,
    VerifierKey,
    checkpoint_text,
    key_id,
    open_note,
    parse_checkpoint_text,
    parse_verifier_key,
    sign_checkpoint,
    verifier_key,
    verify_checkpoint,
)

# golang.org/x/mod, sumdb/note/note_test.go (TestNewVerifier, TestSign) and example_test.go
# (ExampleOpen, ExampleSign_add_signatures) at commit fe2ec04f7c3c3aa6fad97631aafcff6e49e2d1db.
PETER_SIGNER_KEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VERIFIER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_NOTE = (
    PETER_TEXT
    + "\n"
    + "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
# ExampleSign_add_signatures signs again with "EnochRoot", a key from GenerateKey reading an
# all-zero random source, i.e. the Ed25519 seed of 32 zero bytes.
ENOCH_SIGNATURE_LINE = (
    "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
)
# c2sp.org/signed-note, "Verifier keys / Example" (C2SP/C2SP signed-note.md at commit
# 5ba5ee830903e91240fc6f9f3a7a9293d49e69c9).
C2SP_VERIFIER_KEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
C2SP_NOTE = (
    "This is an example message.\n"
    "\n"
    "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)
# c2sp.org/tlog-checkpoint's example checkpoint text (same commit; no verifier key is given).
C2SP_CHECKPOINT_TEXT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"

ORIGIN = "hour-ledger.local/ledger"
ROOT = hashlib.sha256(b"some root").digest()


def peter_key() -> SigningKey:
    # PRIVATE+KEY+<name>+<id>+<base64(0x01 ‖ seed)>; the base64 may itself hold '+'.
    seed = base64.b64decode(PETER_SIGNER_KEY.split("+", 4)[4])
    assert seed[0] == 0x01
    return SigningKey("PeterNeumann", Ed25519PrivateKey.from_private_bytes(seed[1:]))


# --- an independent verifier, from the C2SP signed-note and tlog-checkpoint texts only -----


class IndependentCheckFailed(Exception):
    pass


def independent_verify(note: str, vkey: str) -> str:
    """c2sp.org/signed-note verification with an Ed25519 vkey, written from the spec alone."""
    # "<key name>+hex(32-bit key ID)+base64(signature type || public key)"
    name, hex_id, b64_key = vkey.split("+", 2)
    if not name or any(ch.isspace() for ch in name):
        raise IndependentCheckFailed("bad key name")
    raw_key = base64.b64decode(b64_key, validate=True)
    if raw_key[0] != 0x01 or len(raw_key) != 33:
        raise IndependentCheckFailed("not an Ed25519 vkey")
    # "key ID = SHA-256(key name || 0x0A || 0x01 || 32-byte Ed25519 public key)[:4]"
    expected_id = hashlib.sha256(name.encode() + b"\x0a" + raw_key).digest()[:4]
    if len(hex_id) != 8 or bytes.fromhex(hex_id) != expected_id:
        raise IndependentCheckFailed("key ID does not match")
    public_key = Ed25519PublicKey.from_public_bytes(raw_key[1:])

    data = note.encode("utf-8")
    # "MUST NOT contain any ASCII control characters (those below U+0020) other than newline"
    if any(b < 0x20 and b != 0x0A for b in data):
        raise IndependentCheckFailed("control character")
    # "the text is separated from the signatures by the last empty line in the note"
    cut = data.rindex(b"\n\n")
    text, signature_block = data[: cut + 1], data[cut + 2 :]
    if not signature_block.endswith(b"\n"):
        raise IndependentCheckFailed("signature block does not end in newline")
    found = False
    for line in signature_block[:-1].split(b"\n"):
        # "em dash (U+2014), space (U+0020), key name, space, base64-encoded signature, newline"
        if not line.startswith("\u2014 ".encode()):
            raise IndependentCheckFailed("signature line without em dash")
        line_name, b64_signature = line[len("\u2014 ".encode()) :].decode().split(" ")
        signature = base64.b64decode(b64_signature, validate=True)
        if line_name != name or signature[:4] != expected_id:
            continue  # "Verifiers MUST ignore signatures from unknown keys"
        try:
            public_key.verify(signature[4:], text)
        except InvalidSignature:
            raise IndependentCheckFailed("signature does not verify") from None
        found = True
    if not found:
        raise IndependentCheckFailed("no signature by the key")
    return text.decode("utf-8")


def independent_parse_checkpoint(text: str) -> tuple[str, int, bytes]:
    """c2sp.org/tlog-checkpoint note text: origin, decimal size, base64 root; from the spec alone."""
    lines = text.split("\n")
    assert lines[-1] == ""  # the text ends in a newline
    origin, size_line, root_line = lines[0], lines[1], lines[2]
    assert origin
    assert size_line.isascii() and size_line.isdigit() and (size_line == "0" or not size_line.startswith("0"))
    root_hash = base64.b64decode(root_line, validate=True)
    assert len(root_hash) == 32
    return origin, int(size_line), root_hash


def test_the_independent_verifier_accepts_the_published_examples() -> None:
    assert independent_verify(PETER_NOTE, PETER_VERIFIER_KEY) == PETER_TEXT
    assert independent_verify(C2SP_NOTE, C2SP_VERIFIER_KEY) == "This is an example message.\n"
    with pytest.raises(IndependentCheckFailed):
        independent_verify(PETER_NOTE.replace("problem is", "problem was"), PETER_VERIFIER_KEY)


def test_a_produced_checkpoint_passes_the_independent_verifier() -> None:
    key = SigningKey.generate(ORIGIN)
    note = sign_checkpoint(key, ORIGIN, 1234567, ROOT)
    text = independent_verify(note, key.verifier_key)
    assert independent_parse_checkpoint(text) == (ORIGIN, 1234567, ROOT)


# --- the reference implementation's and the specification's examples ----------------------


def test_signing_is_byte_exact_with_the_reference_implementation() -> None:
    key = peter_key()
    assert key.verifier_key == PETER_VERIFIER_KEY
    assert key.key_id == bytes.fromhex("c74f20a3")
    assert key.sign_note(PETER_TEXT) == PETER_NOTE
    enoch = SigningKey("EnochRoot", Ed25519PrivateKey.from_private_bytes(bytes(32)))
    assert enoch.sign_note(PETER_TEXT) == PETER_TEXT + "\n" + ENOCH_SIGNATURE_LINE


def test_the_reference_notes_open() -> None:
    assert open_note(PETER_NOTE, PETER_VERIFIER_KEY) == PETER_TEXT
    assert open_note(PETER_NOTE, parse_verifier_key(PETER_VERIFIER_KEY)) == PETER_TEXT
    # Doubly signed: each key finds its own line and ignores the other.
    doubly_signed = PETER_NOTE + ENOCH_SIGNATURE_LINE
    assert open_note(doubly_signed, PETER_VERIFIER_KEY) == PETER_TEXT
    enoch = SigningKey("EnochRoot", Ed25519PrivateKey.from_private_bytes(bytes(32)))
    assert open_note(doubly_signed, enoch.verifier_key) == PETER_TEXT


def test_the_c2sp_example_note_opens() -> None:
    assert open_note(C2SP_NOTE, C2SP_VERIFIER_KEY) == "This is an example message.\n"
    key = parse_verifier_key(C2SP_VERIFIER_KEY)
    assert key.name == "example.com/foo"
    assert key.key_id == bytes.fromhex("530d903a")
    assert str(key) == C2SP_VERIFIER_KEY


def test_the_c2sp_example_checkpoint_text_parses() -> None:
    checkpoint = parse_checkpoint_text(C2SP_CHECKPOINT_TEXT)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.size == 20852163
    assert checkpoint.root_hash == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert checkpoint.extensions == ()
    assert checkpoint_text(checkpoint.origin, checkpoint.size, checkpoint.root_hash) == C2SP_CHECKPOINT_TEXT


def test_verifier_key_manglings_are_refused() -> None:
    # As the reference's TestNewVerifier: every proper substring and every byte + 1.
    for i in range(len(PETER_VERIFIER_KEY) + 1):
        for j in range(i + 1, len(PETER_VERIFIER_KEY) + 1):
            if (i, j) != (0, len(PETER_VERIFIER_KEY)):
                with pytest.raises(NoteError):
                    parse_verifier_key(PETER_VERIFIER_KEY[i:j])
    for i, character in enumerate(PETER_VERIFIER_KEY):
        mangled = PETER_VERIFIER_KEY[:i] + chr(ord(character) + 1) + PETER_VERIFIER_KEY[i + 1 :]
        with pytest.raises(NoteError):
            parse_verifier_key(mangled)
    with pytest.raises(NoteError):  # wrong key length, with its matching id
        parse_verifier_key("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==")
    with pytest.raises(NoteError, match="signature type"):  # unknown algorithm, with its matching id
        parse_verifier_key("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")


@pytest.mark.parametrize("name", ["", "a b", "a+b", "tab\there", "nbsp\u00a0here", "ideographic\u3000space", "nl\n", "del\x01"])
def test_invalid_key_names_are_refused(name: str) -> None:
    with pytest.raises(NoteError):
        key_id(name, bytes(32))
    with pytest.raises(NoteError):
        SigningKey.generate(name)


def test_key_id_and_verifier_key() -> None:
    public_key = bytes(range(32))
    expected = hashlib.sha256(b"hour-ledger.local/ledger\n\x01" + public_key).digest()[:4]
    assert key_id(ORIGIN, public_key) == expected
    text = verifier_key(ORIGIN, public_key)
    encoded = base64.b64encode(bytes([1]) + public_key).decode()
    assert text == f"{ORIGIN}+{expected.hex()}+{encoded}"
    assert parse_verifier_key(text) == VerifierKey(ORIGIN, expected, public_key)
    assert parse_verifier_key(text + "\n") == VerifierKey(ORIGIN, expected, public_key)
    with pytest.raises(NoteError):
        parse_verifier_key(text.replace(expected.hex(), expected.hex().upper()))
    with pytest.raises(NoteError):
        key_id(ORIGIN, public_key[:31])


# --- round trips and tampering -------------------------------------------------------------


def test_sign_and_verify_a_checkpoint() -> None:
    key = SigningKey.generate(ORIGIN)
    note = sign_checkpoint(key, ORIGIN, 42, ROOT)
    assert note.startswith(f"{ORIGIN}\n42\n{base64.b64encode(ROOT).decode()}\n\n\u2014 {ORIGIN} ")
    assert verify_checkpoint(note, key.verifier_key) == Checkpoint(ORIGIN, 42, ROOT)
    assert verify_checkpoint(note, key.verifier_key, origin=ORIGIN).size == 42
    with pytest.raises(NoteError, match="not 'elsewhere'"):
        verify_checkpoint(note, key.verifier_key, origin="elsewhere")


def test_an_empty_tree_checkpoint() -> None:
    key = SigningKey.generate(ORIGIN)
    empty_root = hashlib.sha256(b"").digest()
    note = sign_checkpoint(key, ORIGIN, 0, empty_root)
    assert verify_checkpoint(note, key.verifier_key) == Checkpoint(ORIGIN, 0, empty_root)


def test_changing_any_character_of_a_checkpoint_note_fails() -> None:
    key = SigningKey.generate(ORIGIN)
    note = sign_checkpoint(key, ORIGIN, 1000, ROOT)
    for i, character in enumerate(note):
        for replacement in {chr(ord(character) ^ 1), "A", "\n", " "} - {character}:
            tampered = note[:i] + replacement + note[i + 1 :]
            with pytest.raises(NoteError):
                verify_checkpoint(tampered, key.verifier_key)
    # Dropping or adding a character anywhere also fails.
    for i in range(len(note)):
        with pytest.raises(NoteError):
            verify_checkpoint(note[:i] + note[i + 1 :], key.verifier_key)
        with pytest.raises(NoteError):
            verify_checkpoint(note[:i] + "0" + note[i:], key.verifier_key)


def test_a_wrong_key_fails() -> None:
    key = SigningKey.generate(ORIGIN)
    note = sign_checkpoint(key, ORIGIN, 7, ROOT)
    with pytest.raises(NoteError, match="no signature"):
        open_note(note, SigningKey.generate(ORIGIN).verifier_key)  # same name, other key
    with pytest.raises(NoteError, match="no signature"):
        open_note(note, SigningKey.generate("someone.else/log").verifier_key)
    with pytest.raises(NoteError):
        open_note(note, PETER_VERIFIER_KEY)


def test_a_forged_signature_under_the_right_name_and_id_is_rejected() -> None:
    key = SigningKey.generate(ORIGIN)
    forger = Ed25519PrivateKey.generate()
    text = checkpoint_text(ORIGIN, 7, ROOT)
    forged = base64.b64encode(key.key_id + forger.sign(text.encode())).decode()
    with pytest.raises(NoteError, match="does not verify"):
        open_note(f"{text}\n\u2014 {ORIGIN} {forged}\n", key.verifier_key)


def test_unknown_signers_are_ignored() -> None:
    key = SigningKey.generate(ORIGIN)
    witness = SigningKey.generate("witness.example/w1")
    note = sign_checkpoint(key, ORIGIN, 7, ROOT)
    witness_line = witness.sign_note(checkpoint_text(ORIGIN, 7, ROOT)).rsplit("\n\n", 1)[1]
    assert verify_checkpoint(note + witness_line, key.verifier_key).size == 7
    text, signature_line = note.rsplit("\n\n", 1)
    assert verify_checkpoint(f"{text}\n\n{witness_line}{signature_line}", key.verifier_key).size == 7
    assert verify_checkpoint(note + witness_line, witness.verifier_key).size == 7


@pytest.mark.parametrize(
    "note",
    [
        "",
        "no blank line\n\u2014 a AAAA\n",
        "text\n\n",
        "text\n\n\u2014 name c2lnbmF0dXJl",  # no final newline
        "text\n\n- name c2lnbmF0dXJl\n",  # hyphen, not em dash
        "text\n\n\u2014 name\n",
        "text\n\n\u2014 name not-base64!\n",
        "text\n\n\u2014 name QUJD\n",  # fewer than 5 bytes
        "text\n\n\u2014 na+me QUJDREVG\n",
        "text\r\n\n\u2014 name QUJDREVG\n",
        "te\x00xt\n\n\u2014 name QUJDREVG\n",
    ],
)
def test_malformed_notes_are_refused(note: str) -> None:
    with pytest.raises(NoteError):
        open_note(note, PETER_VERIFIER_KEY)


def test_too_many_signatures_are_refused() -> None:
    line = PETER_NOTE.rsplit("\n\n", 1)[1]
    assert open_note(PETER_NOTE + line * 15, PETER_VERIFIER_KEY) == PETER_TEXT  # C2SP: at least 16
    with pytest.raises(NoteError, match="more than"):
        open_note(PETER_NOTE + line * notes.MAX_SIGNATURES, PETER_VERIFIER_KEY)


def test_text_that_cannot_be_a_note_is_not_signed() -> None:
    key = SigningKey.generate(ORIGIN)
    for text in ["no final newline", "", "a\rb\n", "a\x00\n", "lone \ud800\n"]:
        with pytest.raises(NoteError):
            key.sign_note(text)
    # Empty lines inside the text are allowed: the last blank line is the separator.
    assert open_note(key.sign_note("a\n\nb\n"), key.verifier_key) == "a\n\nb\n"
    assert open_note(key.sign_note("a\n\n"), key.verifier_key) == "a\n\n"


def test_checkpoint_text_refuses_bad_values() -> None:
    for origin in ["", "two\nlines", "tab\tin"]:
        with pytest.raises(NoteError):
            checkpoint_text(origin, 1, ROOT)
    for size in [-1, True, 1.0, "1"]:
        with pytest.raises(NoteError):
            checkpoint_text(ORIGIN, size, ROOT)  # type: ignore[arg-type]
    for root_hash in [ROOT[:31], ROOT + b"x", base64.b64encode(ROOT)]:
        with pytest.raises(NoteError):
            checkpoint_text(ORIGIN, 1, root_hash)


ROOT_B64 = base64.b64encode(ROOT).decode()
URLSAFE_B64 = base64.urlsafe_b64encode(bytes([0xFF]) * 32).decode()


@pytest.mark.parametrize(
    "text",
    [
        f"{ORIGIN}\n01\n{ROOT_B64}\n",
        f"{ORIGIN}\n00\n{ROOT_B64}\n",
        f"{ORIGIN}\n+1\n{ROOT_B64}\n",
        f"{ORIGIN}\n-1\n{ROOT_B64}\n",
        f"{ORIGIN}\n 1\n{ROOT_B64}\n",
        f"{ORIGIN}\n1.0\n{ROOT_B64}\n",
        f"{ORIGIN}\n1_000\n{ROOT_B64}\n",
        f"{ORIGIN}\n\u0661\n{ROOT_B64}\n",  # ARABIC-INDIC DIGIT ONE: int() would take it
        f"{ORIGIN}\n{2**64}\n{ROOT_B64}\n",
        f"{ORIGIN}\n1\n{base64.b64encode(ROOT[:31]).decode()}\n",
        f"{ORIGIN}\n1\n{ROOT_B64.rstrip('=')}\n",
        f"{ORIGIN}\n1\n{URLSAFE_B64}\n",
        f"{ORIGIN}\n1\n{ROOT_B64[:-2]}B=\n",  # decodes to the same bytes, but not canonical
        f"{ORIGIN}\n1\n{ROOT_B64}",
        f"{ORIGIN}\n1\n",
        f"\n1\n{ROOT_B64}\n",
        f"{ORIGIN}\n1\n{ROOT_B64}\n\n",
        f"{ORIGIN}\n1\n{ROOT_B64}\nextension\n\n",
    ],
)
def test_checkpoint_text_is_parsed_strictly(text: str) -> None:
    with pytest.raises(NoteError):
        parse_checkpoint_text(text)


def test_checkpoint_extension_lines_are_kept() -> None:
    checkpoint = parse_checkpoint_text(f"{ORIGIN}\n5\n{ROOT_B64}\nfirst\nsecond\n")
    assert checkpoint == Checkpoint(ORIGIN, 5, ROOT, ("first", "second"))


@settings(max_examples=50, deadline=None)
@given(
    origin=st.text(alphabet=st.characters(min_codepoint=0x21, exclude_categories=("Cs",)), min_size=1, max_size=30),
    size=st.integers(min_value=0, max_value=2**64 - 1),
    root_hash=st.binary(min_size=32, max_size=32),
)
def test_any_checkpoint_round_trips(origin: str, size: int, root_hash: bytes) -> None:
    key = SigningKey.generate("log.example/k")
    note = sign_checkpoint(key, origin, size, root_hash)
    assert verify_checkpoint(note, key.verifier_key, origin=origin) == Checkpoint(origin, size, root_hash)
    assert independent_parse_checkpoint(independent_verify(note, key.verifier_key)) == (origin, size, root_hash)


# --- the key file --------------------------------------------------------------------------


def test_the_key_file_is_created_0600_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "hour-ledger.signing-key"
    created = SigningKey.load_or_create(path, ORIGIN)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    reloaded = SigningKey.load_or_create(path, ORIGIN)
    assert reloaded.public_key == created.public_key
    assert reloaded.verifier_key == created.verifier_key
    note = created.sign_note("hello\n")
    assert open_note(note, reloaded.verifier_key) == "hello\n"
    assert "PRIVATE" not in repr(created)


def test_the_key_file_is_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        SigningKey.load_or_create(tmp_path / "key", ORIGIN)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "key").stat().st_mode) == 0o600


def test_racing_creators_end_with_one_key(tmp_path: Path) -> None:
    for attempt in range(5):
        path = tmp_path / f"key-{attempt}"
        barrier = threading.Barrier(12)
        results: list[bytes] = []
        errors: list[BaseException] = []

        def start() -> None:
            try:
                barrier.wait()
                results.append(SigningKey.load_or_create(path, ORIGIN).public_key)
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [threading.Thread(target=start) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(results) == 12 and len(set(results)) == 1
        assert SigningKey.load_or_create(path, ORIGIN).public_key == results[0]


def test_a_key_file_still_being_written_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "key"
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, pem[:20])  # the winner has written part of it so far

    def finish() -> None:
        time.sleep(0.2)
        os.write(fd, pem[20:])
        os.close(fd)

    writer = threading.Thread(target=finish)
    writer.start()
    key = SigningKey.load_or_create(path, ORIGIN)
    writer.join()
    expected = serialization.load_pem_private_key(pem, password=None).public_key()
    assert key.public_key == expected.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_an_empty_key_file_that_stays_empty_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notes, "KEY_FILE_WAIT_SECONDS", 0.1)
    path = tmp_path / "key"
    path.touch(mode=0o600)
    with pytest.raises(NoteError):
        SigningKey.load_or_create(path, ORIGIN)


def test_a_key_file_that_is_not_ed25519_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(NoteError, match="not an Ed25519"):
        SigningKey.load_or_create(path, ORIGIN)
    path.write_bytes(b"this is not a key\n")
    with pytest.raises(NoteError, match="not an unencrypted PEM"):
        SigningKey.load_or_create(path, ORIGIN)
    path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"password"),
        )
    )
    with pytest.raises(NoteError, match="not an unencrypted PEM"):
        SigningKey.load_or_create(path, ORIGIN)

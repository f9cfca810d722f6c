//! Signed checkpoints: the C2SP `tlog-checkpoint` body in a C2SP `signed-note`, signed with
//! Ed25519.
//!
//! A checkpoint commits the log to a size and a root hash:
//!
//! ```text
//! <origin>\n
//! <size in decimal>\n
//! <root hash in standard base64>\n
//! [extension lines]\n
//! \n
//! — <key name> <base64(key id || signature)>\n
//! ```
//!
//! 1. The body (every line up to and including the root and any extension lines, each ending
//!    in `\n`) is the signed message, byte for byte.
//! 2. A blank line separates it from the signature lines, each starting with U+2014 EM DASH and
//!    a space, then the key name, a space, and base64 of a 4-byte key id followed by the
//!    64-byte Ed25519 signature.
//! 3. The key id is the first 4 bytes of `SHA-256(name || 0x0A || 0x01 || public key)`, where
//!    0x01 identifies the Ed25519 algorithm; it lets a verifier skip signatures from keys it
//!    does not know without trying them.
//! 4. A verifier key is written `<name>+<key id as 8 hex digits>+<base64(0x01 || public key)>`.
//!
//! Opening a note checks that at least one signature comes from the expected key and verifies;
//! signatures by other keys (cosigners, witnesses) are skipped, as the format intends.

use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, Verifier as _};
use sha2::Digest as _;

use crate::hash::Hash32;

/// The algorithm byte of Ed25519 keys in signed notes.
pub const ALG_ED25519: u8 = 0x01;

/// The largest note accepted, in bytes.
pub const NOTE_BYTES_MAX: usize = 16 * 1024;

/// The most signature lines a note may carry.
pub const NOTE_SIGNATURES_MAX: usize = 64;

/// The most extension lines a checkpoint body may carry.
pub const CHECKPOINT_EXTENSIONS_MAX: usize = 16;

const SIG_PREFIX: &str = "\u{2014} ";

/// Why a checkpoint, note or key was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The note exceeds [`NOTE_BYTES_MAX`].
    #[error("note has {0} bytes; at most {NOTE_BYTES_MAX} are accepted")]
    TooLarge(usize),
    /// The note is not shaped as text, blank line, signature lines.
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// The checkpoint body is not origin, size, root.
    #[error("malformed checkpoint body: {0}")]
    MalformedCheckpoint(&'static str),
    /// A key name is empty or contains whitespace or `+`.
    #[error("key name {0:?} is not accepted: it must be non-empty, without spaces or `+`")]
    KeyName(String),
    /// A verifier or signing key string could not be parsed.
    #[error("malformed key: {0}")]
    MalformedKey(&'static str),
    /// No signature line is from the expected key.
    #[error("no signature by key {0:?} on the note")]
    NoSignatureByKey(String),
    /// A signature by the expected key does not verify.
    #[error("signature by key {0:?} does not verify")]
    BadSignature(String),
    /// The checkpoint's origin is not the expected one.
    #[error("checkpoint origin {found:?} is not the expected {expected:?}")]
    WrongOrigin {
        /// Origin in the note.
        found: String,
        /// Origin the verifier expected.
        expected: String,
    },
}

/// A checkpoint body: what the log commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity, for example `tianshui.amr/credit-ledger`.
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// Merkle root at that size.
    pub root: Hash32,
    /// Optional extension lines (without newlines).
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint with no extension lines.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash32) -> Self {
        Self { origin: origin.into(), size, root, extensions: Vec::new() }
    }

    /// The body text, every line ending in `\n`.
    pub fn to_body(&self) -> String {
        let mut body = format!("{}\n{}\n{}\n", self.origin, self.size, B64.encode(self.root.0));
        for line in &self.extensions {
            body.push_str(line);
            body.push('\n');
        }
        body
    }

    /// Parses a body produced by [`Checkpoint::to_body`].
    pub fn parse_body(body: &str) -> Result<Self, NoteError> {
        let bad = NoteError::MalformedCheckpoint;
        let Some(body) = body.strip_suffix('\n') else {
            return Err(bad("body must end with a newline"));
        };
        let mut lines = body.split('\n');
        let origin = lines.next().filter(|l| !l.is_empty()).ok_or(bad("empty origin line"))?;
        let size = lines.next().ok_or(bad("missing size line"))?;
        let canonical_decimal = !size.is_empty()
            && size.bytes().all(|b| b.is_ascii_digit())
            && (size == "0" || !size.starts_with('0'));
        if !canonical_decimal {
            return Err(bad("size must be a decimal number without leading zeros"));
        }
        let size: u64 = size.parse().map_err(|_| bad("size does not fit in 64 bits"))?;
        let root = lines.next().ok_or(bad("missing root hash line"))?;
        let root = B64.decode(root).map_err(|_| bad("root hash is not standard base64"))?;
        let root = Hash32::from_slice(&root).ok_or(bad("root hash is not 32 bytes"))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(bad("extension lines must not be empty"));
        }
        if extensions.len() > CHECKPOINT_EXTENSIONS_MAX {
            return Err(bad("too many extension lines"));
        }
        Ok(Self { origin: origin.to_owned(), size, root, extensions })
    }
}

fn check_key_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        Err(NoteError::KeyName(name.to_owned()))
    } else {
        Ok(())
    }
}

fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut h = sha2::Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ALG_ED25519]);
    h.update(public);
    let digest = h.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// The log's signing key: a key name and an Ed25519 secret key.
pub struct LogSigner {
    name: String,
    key: ed25519_dalek::SigningKey,
}

impl fmt::Debug for LogSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        f.debug_struct("LogSigner").field("name", &self.name).finish_non_exhaustive()
    }
}

impl LogSigner {
    /// Generates a fresh key from the operating system's random source.
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        check_key_name(name)?;
        let key = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
        Ok(Self { name: name.to_owned(), key })
    }

    /// A key from a 32-byte seed (for tests and key files).
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        check_key_name(name)?;
        Ok(Self { name: name.to_owned(), key: ed25519_dalek::SigningKey::from_bytes(&seed) })
    }

    /// The key file form: `PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || seed)>`.
    pub fn to_secret_string(&self) -> String {
        let mut bytes = vec![ALG_ED25519];
        bytes.extend_from_slice(&self.key.to_bytes());
        let id = key_id(&self.name, self.key.verifying_key().as_bytes());
        format!("PRIVATE+KEY+{}+{}+{}", self.name, hex8(id), B64.encode(bytes))
    }

    /// Parses [`LogSigner::to_secret_string`].
    pub fn from_secret_string(text: &str) -> Result<Self, NoteError> {
        let rest = text
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::MalformedKey("a signing key starts with PRIVATE+KEY+"))?;
        let (name, id, key) = split_key(rest)?;
        let bytes = B64.decode(key).map_err(|_| NoteError::MalformedKey("key is not base64"))?;
        let seed: [u8; 32] = match bytes.split_first() {
            Some((&ALG_ED25519, seed)) => {
                seed.try_into().map_err(|_| NoteError::MalformedKey("seed is not 32 bytes"))?
            }
            _ => return Err(NoteError::MalformedKey("only Ed25519 (0x01) keys are supported")),
        };
        let signer = Self::from_seed(name, seed)?;
        if hex8(key_id(name, signer.key.verifying_key().as_bytes())) != id {
            return Err(NoteError::MalformedKey("key id does not match the key"));
        }
        Ok(signer)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The matching verifier key.
    pub fn verifier(&self) -> NoteVerifier {
        let public = self.key.verifying_key();
        NoteVerifier {
            name: self.name.clone(),
            id: key_id(&self.name, public.as_bytes()),
            key: public,
        }
    }

    /// Signs a note text (which must end with `\n`) and returns the whole signed note.
    pub fn sign_note(&self, text: &str) -> String {
        let signature = self.key.sign(text.as_bytes());
        let mut sig = key_id(&self.name, self.key.verifying_key().as_bytes()).to_vec();
        sig.extend_from_slice(&signature.to_bytes());
        format!("{text}\n{SIG_PREFIX}{} {}\n", self.name, B64.encode(sig))
    }

    /// Signs a checkpoint and returns the signed note.
    pub fn sign_checkpoint(&self, checkpoint: &Checkpoint) -> String {
        self.sign_note(&checkpoint.to_body())
    }
}

/// A public key that verifies notes: name, key id and Ed25519 public key.
#[derive(Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: [u8; 4],
    key: ed25519_dalek::VerifyingKey,
}

impl fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string())
    }
}

impl fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = vec![ALG_ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{}+{}", self.name, hex8(self.id), B64.encode(bytes))
    }
}

fn hex8(id: [u8; 4]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

fn split_key(text: &str) -> Result<(&str, &str, &str), NoteError> {
    let mut parts = text.splitn(3, '+');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(name), Some(id), Some(key)) if id.len() == 8 => {
            check_key_name(name)?;
            Ok((name, id, key))
        }
        _ => Err(NoteError::MalformedKey("expected <name>+<8 hex digits>+<base64 key>")),
    }
}

impl NoteVerifier {
    /// Parses `<name>+<key id hex>+<base64(0x01 || public key)>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let (name, id, key) = split_key(text.trim())?;
        let bytes = B64.decode(key).map_err(|_| NoteError::MalformedKey("key is not base64"))?;
        let public: [u8; 32] = match bytes.split_first() {
            Some((&ALG_ED25519, public)) => public
                .try_into()
                .map_err(|_| NoteError::MalformedKey("public key is not 32 bytes"))?,
            _ => return Err(NoteError::MalformedKey("only Ed25519 (0x01) keys are supported")),
        };
        let key = ed25519_dalek::VerifyingKey::from_bytes(&public)
            .map_err(|_| NoteError::MalformedKey("not a valid Ed25519 public key"))?;
        let computed = key_id(name, &public);
        if hex8(computed) != id.to_ascii_lowercase() {
            return Err(NoteError::MalformedKey("key id does not match the key"));
        }
        Ok(Self { name: name.to_owned(), id: computed, key })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Verifies a signed note and returns its text (the signed message).
    pub fn open_note<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        if note.len() > NOTE_BYTES_MAX {
            return Err(NoteError::TooLarge(note.len()));
        }
        let split =
            note.rfind("\n\n").ok_or(NoteError::Malformed("no blank line before signatures"))?;
        let (text, sigs) = (&note[..split + 1], &note[split + 2..]);
        let Some(sigs) = sigs.strip_suffix('\n') else {
            return Err(NoteError::Malformed("signature block must end with a newline"));
        };
        let mut found = false;
        for (i, line) in sigs.split('\n').enumerate() {
            if i >= NOTE_SIGNATURES_MAX {
                return Err(NoteError::Malformed("too many signature lines"));
            }
            let line = line.strip_prefix(SIG_PREFIX).ok_or(NoteError::Malformed(
                "signature lines start with an em dash (U+2014) and a space",
            ))?;
            let (name, sig) =
                line.split_once(' ').ok_or(NoteError::Malformed("signature line lacks a space"))?;
            let sig = B64
                .decode(sig)
                .map_err(|_| NoteError::Malformed("signature is not standard base64"))?;
            if sig.len() < 5 {
                return Err(NoteError::Malformed("signature is too short"));
            }
            if name != self.name || sig[..4] != self.id {
                continue;
            }
            found = true;
            let signature = ed25519_dalek::Signature::from_slice(&sig[4..])
                .map_err(|_| NoteError::BadSignature(self.name.clone()))?;
            self.key
                .verify(text.as_bytes(), &signature)
                .map_err(|_| NoteError::BadSignature(self.name.clone()))?;
        }
        if found {
            Ok(text)
        } else {
            Err(NoteError::NoSignatureByKey(self.name.clone()))
        }
    }

    /// Verifies a signed checkpoint from `origin` and returns it.
    pub fn open_checkpoint(&self, note: &str, origin: &str) -> Result<Checkpoint, NoteError> {
        let checkpoint = Checkpoint::parse_body(self.open_note(note)?)?;
        if checkpoint.origin != origin {
            return Err(NoteError::WrongOrigin {
                found: checkpoint.origin,
                expected: origin.to_owned(),
            });
        }
        Ok(checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "example.amr/credit-ledger";

    fn signer() -> LogSigner {
        LogSigner::from_seed(ORIGIN, [7; 32]).unwrap()
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint::new(ORIGIN, 12345, Hash32::from(blake3::hash(b"root")))
    }

    #[test]
    fn sign_and_open_round_trip() {
        let note = signer().sign_checkpoint(&checkpoint());
        assert!(note.starts_with(&format!("{ORIGIN}\n12345\n")));
        assert!(note.contains("\n\n\u{2014} example.amr/credit-ledger "));
        let verifier = NoteVerifier::parse(&signer().verifier().to_string()).unwrap();
        assert_eq!(verifier.open_checkpoint(&note, ORIGIN).unwrap(), checkpoint());
    }

    #[test]
    fn keys_round_trip_through_text() {
        let text = signer().to_secret_string();
        let again = LogSigner::from_secret_string(&text).unwrap();
        assert_eq!(again.verifier(), signer().verifier());
        let id = hex8(key_id(ORIGIN, signer().verifier().key.as_bytes()));
        let wrong_id = text.replace(&id, "00000000");
        assert_eq!(
            LogSigner::from_secret_string(&wrong_id).unwrap_err(),
            NoteError::MalformedKey("key id does not match the key")
        );
        let verifier = signer().verifier().to_string().replace(&id, "00000000");
        assert!(NoteVerifier::parse(&verifier).is_err());
    }

    #[test]
    fn rejects_tampered_and_malformed_notes() {
        let note = signer().sign_checkpoint(&checkpoint());
        let verifier = signer().verifier();
        let tampered = note.replacen("12345", "12346", 1);
        assert_eq!(verifier.open_note(&tampered), Err(NoteError::BadSignature(ORIGIN.into())));
        let other = LogSigner::from_seed(ORIGIN, [8; 32]).unwrap().verifier();
        assert_eq!(other.open_note(&note), Err(NoteError::NoSignatureByKey(ORIGIN.into())));
        assert!(matches!(verifier.open_note("no signatures\n"), Err(NoteError::Malformed(_))));
        assert!(matches!(
            verifier.open_note(&note.replace('\u{2014}', "-")),
            Err(NoteError::Malformed(_))
        ));
        assert!(matches!(
            verifier.open_checkpoint(&note, "other/origin"),
            Err(NoteError::WrongOrigin { .. })
        ));
        let huge = "x".repeat(NOTE_BYTES_MAX + 1);
        assert_eq!(verifier.open_note(&huge), Err(NoteError::TooLarge(NOTE_BYTES_MAX + 1)));
    }

    #[test]
    fn foreign_signatures_are_skipped() {
        let note = signer().sign_checkpoint(&checkpoint());
        let witness = LogSigner::from_seed("witness.example", [9; 32]).unwrap();
        let extra = witness.sign_note(&checkpoint().to_body());
        let sig_line = extra.rsplit_once("\n\n").unwrap().1;
        let cosigned = format!("{note}{sig_line}");
        assert!(signer().verifier().open_checkpoint(&cosigned, ORIGIN).is_ok());
        assert!(witness.verifier().open_checkpoint(&cosigned, ORIGIN).is_ok());
    }

    #[test]
    fn checkpoint_body_rules() {
        let root = B64.encode([0u8; 32]);
        assert!(Checkpoint::parse_body(&format!("o\n0\n{root}\n")).is_ok());
        assert!(Checkpoint::parse_body(&format!("o\n01\n{root}\n")).is_err());
        assert!(Checkpoint::parse_body(&format!("o\n-1\n{root}\n")).is_err());
        assert!(Checkpoint::parse_body(&format!("\n1\n{root}\n")).is_err());
        assert!(Checkpoint::parse_body(&format!("o\n1\n{root}")).is_err());
        assert!(Checkpoint::parse_body("o\n1\nAAAA\n").is_err());
        let with_ext = Checkpoint::parse_body(&format!("o\n1\n{root}\nextra\n")).unwrap();
        assert_eq!(with_ext.extensions, vec!["extra".to_owned()]);
        assert_eq!(Checkpoint::parse_body(&with_ext.to_body()).unwrap(), with_ext);
        assert!(LogSigner::from_seed("bad name", [0; 32]).is_err());
    }
}

use std::fmt;

/// An error from decoding or checking something defined by this crate.
///
/// It carries no HTTP knowledge: the verifier maps each [`ErrorKind`] to its
/// own status and error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    detail: &'static str,
}

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input does not have the expected shape (bad base64, bad JSON,
    /// wrong number of parts, too long...).
    Malformed,
    /// The header names an algorithm other than `EdDSA` (including `none`).
    UnsupportedAlgorithm,
    /// The header's `kid` is not among the keys we trust.
    UnknownKey,
    /// The signature does not match the signing input.
    BadSignature,
    /// The token's `exp` is in the past.
    Expired,
    /// The token's `iat` is in the future beyond the allowed clock skew.
    NotYetValid,
    /// A value is out of its allowed range (a score above 100, too many
    /// samples in a signals payload...).
    OutOfRange,
}

impl Error {
    /// Makes an error of `kind` with a short, static explanation.
    pub const fn new(kind: ErrorKind, detail: &'static str) -> Self {
        Self { kind, detail }
    }

    /// The kind of error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// A short explanation for people, never containing the input.
    pub fn detail(&self) -> &'static str {
        self.detail
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.detail)
    }
}

impl std::error::Error for Error {}

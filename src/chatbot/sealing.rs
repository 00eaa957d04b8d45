//! Schools' WhatsApp access tokens at rest: AES-256-GCM with a key from the environment
//! (`WHATSAPP_TOKEN_KEY`), a fresh nonce per seal, stored as nonce ‖ ciphertext.

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, AeadCore, OsRng},
};

const NONCE_BYTES: usize = 12;

/// Why a token could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("WHATSAPP_TOKEN_KEY is not set: access tokens cannot be stored")]
    NoKey,
    #[error("the stored access token cannot be opened with WHATSAPP_TOKEN_KEY")]
    WrongKey,
}

pub fn seal(key: Option<&[u8; 32]>, token: &str) -> Result<Vec<u8>, SealError> {
    let cipher = Aes256Gcm::new(key.ok_or(SealError::NoKey)?.into());
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let sealed = cipher
        .encrypt(&nonce, token.as_bytes())
        .map_err(|_| SealError::WrongKey)?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Ok(out)
}

pub fn open(key: Option<&[u8; 32]>, sealed: &[u8]) -> Result<String, SealError> {
    let cipher = Aes256Gcm::new(key.ok_or(SealError::NoKey)?.into());
    if sealed.len() <= NONCE_BYTES {
        return Err(SealError::WrongKey);
    }
    let (nonce, body) = sealed.split_at(NONCE_BYTES);
    let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| SealError::WrongKey)?;
    let plain = cipher
        .decrypt(&Nonce::from(nonce), body)
        .map_err(|_| SealError::WrongKey)?;
    String::from_utf8(plain).map_err(|_| SealError::WrongKey)
}

//! Server-generated keys: UUIDv7, time-ordered so they index well.

use crate::names::IdemKey;

/// A UUIDv7 key from the proposing node's wall clock and 10 random bytes it
/// drew. Both are chosen before the mint command is proposed.
pub fn minted_key(unix_ms: u64, random: [u8; 10]) -> IdemKey {
    let uuid = uuid::Builder::from_unix_timestamp_millis(unix_ms, &random).into_uuid();
    match IdemKey::new(uuid.hyphenated().to_string()) {
        Ok(key) => key,
        Err(_) => unreachable!("a hyphenated UUID is a valid key"),
    }
}

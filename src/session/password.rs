//! Session passwords: ZooKeeper derives them with `java.util.Random(sessionId ^ 0xB3415C00)
//! .nextBytes(16)`, and every server of an ensemble must derive the same bytes because a
//! client moves between servers with its password.

const MULTIPLIER: u64 = 0x5_DEEC_E66D;
const MASK: u64 = (1 << 48) - 1;

/// The 16-byte password of a session.
pub fn session_password(session_id: i64) -> [u8; 16] {
    let mut seed = ((session_id ^ 0xB341_5C00) as u64 ^ MULTIPLIER) & MASK;
    let mut out = [0u8; 16];
    for chunk in out.chunks_mut(4) {
        seed = (seed.wrapping_mul(MULTIPLIER).wrapping_add(0xB)) & MASK;
        let r = (seed >> 16) as u32;
        // nextBytes emits each int low byte first.
        for (i, b) in chunk.iter_mut().enumerate() {
            *b = (r >> (8 * i)) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_java_random() {
        // new java.util.Random(0x100000000000000L ^ 0xB3415C00L).nextBytes(b) in Java 17.
        assert_eq!(session_password(0x0100_0000_0000_0000), JAVA_EXPECTED);
    }

    const JAVA_EXPECTED: [u8; 16] = [
        0xf2, 0x2a, 0xcd, 0x4a, 0x97, 0xe6, 0x9d, 0x6d, 0x20, 0xa4, 0x9b, 0xb6, 0x38, 0xea, 0xdb,
        0x38,
    ];
}

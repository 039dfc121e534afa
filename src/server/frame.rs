//! Client framing: a 4-byte big-endian length, then the payload. Before the handshake the
//! first 4 bytes may instead spell a four-letter word.

use bytes::{Buf, BytesMut};
use tokio_util::codec::Decoder;

/// A frame from a client.
#[derive(Debug, PartialEq, Eq)]
pub enum InFrame {
    /// A complete payload.
    Payload(BytesMut),
    /// A four-letter word (only as the first 4 bytes of a connection).
    FourLetter([u8; 4]),
}

/// Why a connection's input is unacceptable; the connection is closed.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// A negative or too large length ("Len error" in ZooKeeper).
    #[error("Len error {0}")]
    BadLength(i32),
    /// The socket failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The four-letter words ZooKeeper 3.8 knows, plus the telnet close sequence.
pub const FOUR_LETTER_WORDS: [&[u8; 4]; 18] = [
    b"conf", b"cons", b"crst", b"dirs", b"dump", b"envi", b"gtmk", b"stmk", b"ruok", b"srvr",
    b"srst", b"stat", b"wchc", b"wchp", b"wchs", b"mntr", b"isro", b"hash",
];

/// Decodes client frames, refusing lengths above `max` before allocating anything.
#[derive(Debug)]
pub struct ClientCodec {
    max: usize,
    first: bool,
}

impl ClientCodec {
    /// A codec for a new connection.
    pub fn new(max: usize) -> ClientCodec {
        ClientCodec { max, first: true }
    }
}

impl Decoder for ClientCodec {
    type Item = InFrame;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<InFrame>, FrameError> {
        if src.len() < 4 {
            return Ok(None);
        }
        let word = [src[0], src[1], src[2], src[3]];
        if self.first {
            self.first = false;
            if FOUR_LETTER_WORDS.contains(&&word) || word == [0xff, 0xf4, 0xff, 0xfd] {
                src.advance(4);
                return Ok(Some(InFrame::FourLetter(word)));
            }
        }
        let len = i32::from_be_bytes(word);
        if len < 0 || len as usize > self.max {
            return Err(FrameError::BadLength(len));
        }
        let len = len as usize;
        if src.len() < 4 + len {
            src.reserve(4 + len - src.len());
            return Ok(None);
        }
        src.advance(4);
        Ok(Some(InFrame::Payload(src.split_to(len))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_reads_wait_and_big_lengths_fail() {
        let mut c = ClientCodec::new(100);
        let mut b = BytesMut::from(&[0u8, 0, 0, 3, 1][..]);
        assert_eq!(c.decode(&mut b).unwrap(), None);
        b.extend_from_slice(&[2, 3]);
        assert_eq!(
            c.decode(&mut b).unwrap(),
            Some(InFrame::Payload(BytesMut::from(&[1u8, 2, 3][..])))
        );
        let mut b = BytesMut::from(&[0u8, 0, 0, 101][..]);
        assert!(matches!(c.decode(&mut b), Err(FrameError::BadLength(101))));
        let mut b = BytesMut::from(&[0xffu8, 0xff, 0xff, 0xff][..]);
        assert!(matches!(c.decode(&mut b), Err(FrameError::BadLength(-1))));
    }

    #[test]
    fn four_letter_word_only_first() {
        let mut c = ClientCodec::new(100);
        let mut b = BytesMut::from(&b"ruok"[..]);
        assert_eq!(
            c.decode(&mut b).unwrap(),
            Some(InFrame::FourLetter(*b"ruok"))
        );
        let mut b = BytesMut::from(&b"ruok"[..]);
        assert!(matches!(c.decode(&mut b), Err(FrameError::BadLength(_))));
    }
}

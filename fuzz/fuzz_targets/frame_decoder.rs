//! The client framing codec fed arbitrary bytes in arbitrary chunks, then every payload
//! it yields decoded as a ConnectRequest (first) or RequestHeader + Request.
#![no_main]

use bytes::BytesMut;
use ferrokeeper::jute::Jute;
use ferrokeeper::proto::{ConnectRequest, Request, RequestHeader};
use ferrokeeper::server::frame::{ClientCodec, InFrame};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    // The first byte picks the chunk size, so split frames and short reads are covered.
    let chunk = usize::from(data[0] % 17) + 1;
    let data = &data[1..];
    let mut codec = ClientCodec::new(4096);
    let mut buf = BytesMut::new();
    let mut first = true;
    for piece in data.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(InFrame::Payload(p))) => {
                    assert!(p.len() <= 4096);
                    if first {
                        first = false;
                        if let Ok(c) = ConnectRequest::from_bytes(&p) {
                            let _ = c.to_bytes();
                        }
                    } else if let Ok((body, h)) = RequestHeader::read(&p) {
                        let _ = Request::decode(h.r#type, body);
                    }
                }
                Ok(Some(InFrame::FourLetter(_))) => first = false,
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
    // Whatever is left must be less than a frame.
    let _ = codec.decode_eof(&mut buf);
});

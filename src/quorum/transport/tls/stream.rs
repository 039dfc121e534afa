//! A quorum connection's byte stream: plain TCP, or TLS over it (either end of the
//! handshake). The election links and the Zab links read and write it alike.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// One quorum connection, plaintext or TLS.
#[derive(Debug)]
pub(crate) enum QuorumStream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS, as the dialer or the acceptor.
    Tls(Box<tokio_rustls::TlsStream<TcpStream>>),
    /// A stream whose first bytes were already read (an acceptor looking for a quorum
    /// SASL packet found another): they are read again first.
    Rewound {
        pending: bytes::BytesMut,
        inner: Box<QuorumStream>,
    },
}

impl QuorumStream {
    /// Whether it is TLS.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn is_tls(&self) -> bool {
        match self {
            QuorumStream::Rewound { inner, .. } => inner.is_tls(),
            s => matches!(s, QuorumStream::Tls(_)),
        }
    }

    /// This stream, `pending` to be read before what follows on it.
    pub(crate) fn rewound(self, pending: bytes::BytesMut) -> QuorumStream {
        if pending.is_empty() {
            self
        } else {
            QuorumStream::Rewound {
                pending,
                inner: Box::new(self),
            }
        }
    }
}

impl AsyncRead for QuorumStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            QuorumStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            QuorumStream::Rewound { pending, inner } => {
                if pending.is_empty() {
                    return Pin::new(inner.as_mut()).poll_read(cx, buf);
                }
                let n = pending.len().min(buf.remaining());
                buf.put_slice(&pending.split_to(n));
                Poll::Ready(Ok(()))
            }
            // A peer that closes without close_notify (Java's servers when killed, often
            // when not) ends the stream as a plaintext close would: every frame on it is
            // length-prefixed, so a cut is seen as one anyway.
            QuorumStream::Tls(s) => match Pin::new(s.as_mut()).poll_read(cx, buf) {
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    Poll::Ready(Ok(()))
                }
                other => other,
            },
        }
    }
}

impl AsyncWrite for QuorumStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            QuorumStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            QuorumStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            QuorumStream::Rewound { inner, .. } => Pin::new(inner.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            QuorumStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            QuorumStream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
            QuorumStream::Rewound { inner, .. } => {
                Pin::new(inner.as_mut()).poll_write_vectored(cx, bufs)
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            QuorumStream::Plain(s) => s.is_write_vectored(),
            QuorumStream::Tls(s) => s.is_write_vectored(),
            QuorumStream::Rewound { inner, .. } => inner.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            QuorumStream::Plain(s) => Pin::new(s).poll_flush(cx),
            QuorumStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            QuorumStream::Rewound { inner, .. } => Pin::new(inner.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            QuorumStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            QuorumStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            QuorumStream::Rewound { inner, .. } => Pin::new(inner.as_mut()).poll_shutdown(cx),
        }
    }
}

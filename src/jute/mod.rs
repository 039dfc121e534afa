//! Jute, ZooKeeper's binary record encoding: big-endian ints and longs, length-prefixed
//! buffers and strings (-1 = null), counted vectors, records as their fields in order.
//!
//! Decoding works on a whole frame that the framing layer already holds, so running out
//! of bytes inside a record means the record is malformed, never "wait for more".

use bytes::{BufMut, BytesMut};
use nom::number::complete::{be_i32, be_i64, be_u8};

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JuteError {
    /// The input ended inside a field.
    #[error("record truncated")]
    Truncated,
    /// A length or count was negative (where null is not allowed) or larger than what is left.
    #[error("invalid length {0}")]
    BadLength(i32),
    /// Bytes were left over after the record where none may be.
    #[error("{0} trailing bytes after record")]
    Trailing(usize),
    /// A value outside the record's domain (an unknown opcode, a bad enum).
    #[error("invalid value: {0}")]
    Invalid(String),
}

/// The nom result type of every jute decoder.
pub type JResult<'a, T> = Result<(&'a [u8], T), JuteError>;

fn lift<'a, T>(r: nom::IResult<&'a [u8], T>) -> JResult<'a, T> {
    r.map_err(|_| JuteError::Truncated)
}

/// A type with a jute encoding.
pub trait Jute: Sized {
    /// Decodes one value from the front of `i`.
    fn read(i: &[u8]) -> JResult<'_, Self>;
    /// Appends the encoding to `out`.
    fn write(&self, out: &mut BytesMut);

    /// Decodes a value that must take all of `i`.
    fn from_bytes(i: &[u8]) -> Result<Self, JuteError> {
        let (rest, v) = Self::read(i)?;
        if rest.is_empty() {
            Ok(v)
        } else {
            Err(JuteError::Trailing(rest.len()))
        }
    }

    /// Encodes into a fresh buffer.
    fn to_bytes(&self) -> BytesMut {
        let mut b = BytesMut::new();
        self.write(&mut b);
        b
    }
}

impl Jute for i32 {
    fn read(i: &[u8]) -> JResult<'_, Self> {
        lift(be_i32(i))
    }
    fn write(&self, out: &mut BytesMut) {
        out.put_i32(*self);
    }
}

impl Jute for i64 {
    fn read(i: &[u8]) -> JResult<'_, Self> {
        lift(be_i64(i))
    }
    fn write(&self, out: &mut BytesMut) {
        out.put_i64(*self);
    }
}

impl Jute for bool {
    /// Java's reader takes any non-zero byte as true.
    fn read(i: &[u8]) -> JResult<'_, Self> {
        let (i, b) = lift(be_u8(i))?;
        Ok((i, b != 0))
    }
    fn write(&self, out: &mut BytesMut) {
        out.put_u8(u8::from(*self));
    }
}

/// Reads a length prefix; -1 means null, other negatives and lengths beyond the input are invalid.
fn read_len(i: &[u8]) -> JResult<'_, Option<usize>> {
    let (i, n) = i32::read(i)?;
    if n == -1 {
        return Ok((i, None));
    }
    if n < 0 || n as usize > i.len() {
        return Err(JuteError::BadLength(n));
    }
    Ok((i, Some(n as usize)))
}

/// A jute `buffer` that may be null (written as length -1).
impl Jute for Option<Vec<u8>> {
    fn read(i: &[u8]) -> JResult<'_, Self> {
        let (i, n) = read_len(i)?;
        match n {
            None => Ok((i, None)),
            Some(n) => Ok((&i[n..], Some(i[..n].to_vec()))),
        }
    }
    fn write(&self, out: &mut BytesMut) {
        match self {
            None => out.put_i32(-1),
            Some(b) => {
                out.put_i32(b.len() as i32);
                out.put_slice(b);
            }
        }
    }
}

/// A jute `buffer` where null and empty mean the same to ZooKeeper; null reads as empty.
impl Jute for Vec<u8> {
    fn read(i: &[u8]) -> JResult<'_, Self> {
        let (i, b) = Option::<Vec<u8>>::read(i)?;
        Ok((i, b.unwrap_or_default()))
    }
    fn write(&self, out: &mut BytesMut) {
        out.put_i32(self.len() as i32);
        out.put_slice(self);
    }
}

/// A jute `ustring`. Null reads as the empty string; invalid UTF-8 is replaced, as Java's decoder does.
impl Jute for String {
    fn read(i: &[u8]) -> JResult<'_, Self> {
        let (i, n) = read_len(i)?;
        match n {
            None => Ok((i, String::new())),
            Some(n) => Ok((&i[n..], String::from_utf8_lossy(&i[..n]).into_owned())),
        }
    }
    fn write(&self, out: &mut BytesMut) {
        out.put_i32(self.len() as i32);
        out.put_slice(self.as_bytes());
    }
}

/// A jute `vector<T>`. A null vector (count -1) reads as empty.
impl<T: Jute> Jute for Vec<T> {
    fn read(mut i: &[u8]) -> JResult<'_, Self> {
        let (rest, n) = i32::read(i)?;
        i = rest;
        if n == -1 {
            return Ok((i, Vec::new()));
        }
        // Every element takes at least one byte, so a count beyond the input is a lie;
        // checking it first keeps a hostile count from reserving memory.
        if n < 0 || n as usize > i.len() {
            return Err(JuteError::BadLength(n));
        }
        let mut v = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let (rest, x) = T::read(i)?;
            i = rest;
            v.push(x);
        }
        Ok((i, v))
    }
    fn write(&self, out: &mut BytesMut) {
        out.put_i32(self.len() as i32);
        for x in self {
            x.write(out);
        }
    }
}

/// Declares a jute record: a struct whose fields are encoded in order, nothing else.
macro_rules! jute_record {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident : $t:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
        #[allow(missing_docs)] // fields carry zookeeper.jute's names
        pub struct $name { $($(#[$fm])* pub $f: $t),* }

        impl $crate::jute::Jute for $name {
            #[allow(unused_mut)]
            fn read(mut i: &[u8]) -> $crate::jute::JResult<'_, Self> {
                $(let (rest, $f) = <$t as $crate::jute::Jute>::read(i)?; i = rest;)*
                Ok((i, $name { $($f),* }))
            }
            fn write(&self, _out: &mut bytes::BytesMut) {
                $(<$t as $crate::jute::Jute>::write(&self.$f, _out);)*
            }
        }
    };
}
pub(crate) use jute_record;

#[cfg(test)]
mod tests;

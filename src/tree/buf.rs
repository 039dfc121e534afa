//! A fixed-length byte buffer behind one thin pointer: 8 bytes in the node instead of a
//! `Box<[u8]>`'s 16, the length kept in the allocation's first four bytes. A million
//! znodes each hold one.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ptr::NonNull;

const HEADER: usize = std::mem::size_of::<u32>();

/// Owned bytes, at most `u32::MAX` of them.
pub(super) struct Buf(NonNull<u8>);

// SAFETY: Buf owns its allocation exclusively and mutates it only through `&mut self`,
// like a Box<[u8]>.
unsafe impl Send for Buf {}
// SAFETY: shared access only reads.
unsafe impl Sync for Buf {}

fn layout(len: usize) -> Layout {
    // Cannot fail: the size is at most u32::MAX + 4 with alignment 1, far below isize::MAX.
    Layout::from_size_align(HEADER + len, 1).unwrap_or(Layout::new::<u32>())
}

impl Buf {
    /// A buffer holding `parts` one after another. Longer than `u32::MAX` in all is cut
    /// there (jute.maxbuffer keeps requests far below that).
    pub(super) fn from_parts(parts: &[&[u8]]) -> Buf {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let len = total.min(u32::MAX as usize);
        let l = layout(len);
        // SAFETY: the layout has a non-zero size (the header).
        let raw = unsafe { alloc(l) };
        let Some(ptr) = NonNull::new(raw) else {
            handle_alloc_error(l)
        };
        // SAFETY: the allocation holds HEADER + len bytes; every write stays inside it.
        unsafe {
            ptr.as_ptr()
                .copy_from_nonoverlapping((len as u32).to_le_bytes().as_ptr(), HEADER);
            let mut at = HEADER;
            for p in parts {
                let n = p.len().min(HEADER + len - at);
                ptr.as_ptr().add(at).copy_from_nonoverlapping(p.as_ptr(), n);
                at += n;
            }
        }
        Buf(ptr)
    }

    fn len(&self) -> usize {
        let mut b = [0u8; HEADER];
        // SAFETY: every allocation starts with its HEADER bytes of length.
        unsafe {
            self.0
                .as_ptr()
                .copy_to_nonoverlapping(b.as_mut_ptr(), HEADER)
        };
        u32::from_le_bytes(b) as usize
    }

    /// The bytes.
    pub(super) fn as_slice(&self) -> &[u8] {
        // SAFETY: HEADER + len bytes were allocated and all of them initialised.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().add(HEADER), self.len()) }
    }

    /// The bytes, to overwrite in place.
    pub(super) fn as_mut_slice(&mut self) -> &mut [u8] {
        let len = self.len();
        // SAFETY: as in as_slice, and `&mut self` makes this the only access.
        unsafe { std::slice::from_raw_parts_mut(self.0.as_ptr().add(HEADER), len) }
    }
}

impl Drop for Buf {
    fn drop(&mut self) {
        // SAFETY: allocated in from_parts with this very layout.
        unsafe { dealloc(self.0.as_ptr(), layout(self.len())) }
    }
}

impl std::fmt::Debug for Buf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Buf({} bytes)", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_its_parts() {
        assert_eq!(std::mem::size_of::<Buf>(), 8);
        assert_eq!(std::mem::size_of::<Option<Buf>>(), 8);
        let b = Buf::from_parts(&[]);
        assert!(b.as_slice().is_empty());
        let big = vec![9u8; 70_000];
        let b = Buf::from_parts(&[b"ab", b"", &big, b"z"]);
        assert_eq!(b.as_slice().len(), 70_003);
        assert_eq!(&b.as_slice()[..2], b"ab");
        assert_eq!(b.as_slice()[70_002], b'z');
        let mut b = b;
        b.as_mut_slice()[0] = b'x';
        assert_eq!(&b.as_slice()[..2], b"xb");
        let moved = std::thread::spawn(move || b.as_slice().len()).join();
        assert_eq!(moved.ok(), Some(70_003));
    }
}

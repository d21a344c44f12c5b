//! Storage for the packed arrays: owned, or borrowed from the bytes of a
//! compiled model (a memory map, or an aligned copy of the file).

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// Bytes that stay at the same address, unchanged, for as long as they live:
/// a read-only memory map or an owned buffer.
///
/// # Safety
/// `bytes()` must return the same slice (same address, same length, same
/// contents) every time it is called on the same value. A memory map of a file
/// that another process truncates or rewrites breaks the "same contents" part:
/// see `quercus::qpack` for that caveat.
pub unsafe trait StableBytes: Send + Sync + 'static {
    /// The bytes.
    fn bytes(&self) -> &[u8];
}

/// An 8-byte aligned owned copy of some bytes.
#[derive(Debug)]
pub struct AlignedBytes {
    words: Vec<u64>,
    len: usize,
}

impl AlignedBytes {
    /// Copies `bytes` into an 8-byte aligned buffer.
    pub fn copy_from(bytes: &[u8]) -> AlignedBytes {
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        // SAFETY: `words` owns `len.div_ceil(8) * 8 >= bytes.len()` bytes,
        // any byte pattern is a valid u64, and the two buffers are distinct
        // allocations. One memcpy instead of a loop over 8-byte chunks.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                words.as_mut_ptr().cast::<u8>(),
                bytes.len(),
            );
        }
        AlignedBytes {
            words,
            len: bytes.len(),
        }
    }
}

// SAFETY: the Vec is never modified after construction, so its heap buffer
// keeps its address and contents.
unsafe impl StableBytes for AlignedBytes {
    fn bytes(&self) -> &[u8] {
        // SAFETY: `words` holds `len.div_ceil(8) * 8 >= len` initialized
        // bytes; u8 has no alignment or validity requirement.
        unsafe { std::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), self.len) }
    }
}

/// Plain old data: any bit pattern is a valid value, no padding, no pointers.
///
/// # Safety
/// Implement only for `#[repr(C)]` types made of such fields, with no padding.
pub(crate) unsafe trait Pod: Copy + 'static {}

// SAFETY: primitive numbers: every bit pattern is valid.
unsafe impl Pod for u8 {}
// SAFETY: as above.
unsafe impl Pod for u32 {}
// SAFETY: as above.
unsafe impl Pod for f32 {}

/// A read-only array: owned, a typed view into [`StableBytes`], or computed
/// on first use.
pub(crate) enum Buf<T: Pod> {
    Owned(Vec<T>),
    Shared {
        owner: Arc<dyn StableBytes>,
        offset: usize,
        len: usize,
    },
    /// Built by a function the first time it is read (for arrays a compiled
    /// file can leave out because they follow from the rest, and that only
    /// rarely used paths read).
    Lazy(Arc<Lazy<T>>),
}

/// The contents of a [`Buf::Lazy`]: a function, and its result once read.
pub(crate) struct Lazy<T> {
    value: std::sync::OnceLock<Vec<T>>,
    init: Box<dyn Fn() -> Vec<T> + Send + Sync>,
}

impl<T: Pod> Buf<T> {
    /// An array computed by `init` the first time it is read.
    pub(crate) fn lazy(init: impl Fn() -> Vec<T> + Send + Sync + 'static) -> Buf<T> {
        Buf::Lazy(Arc::new(Lazy {
            value: std::sync::OnceLock::new(),
            init: Box::new(init),
        }))
    }

    /// True for a [`Buf::Lazy`] not read yet.
    #[cfg(test)]
    pub(crate) fn is_pending(&self) -> bool {
        matches!(self, Buf::Lazy(l) if l.value.get().is_none())
    }
}

impl<T: Pod> Buf<T> {
    /// A view of `len` values of `T` at byte `offset` of `owner`, if that range
    /// is inside the bytes and suitably aligned.
    pub(crate) fn shared(owner: Arc<dyn StableBytes>, offset: usize, len: usize) -> Option<Buf<T>> {
        let bytes = owner.bytes();
        let size = len.checked_mul(std::mem::size_of::<T>())?;
        let end = offset.checked_add(size)?;
        if end > bytes.len() {
            return None;
        }
        let ptr = bytes[offset..].as_ptr();
        if !(ptr as usize).is_multiple_of(std::mem::align_of::<T>()) {
            return None;
        }
        Some(Buf::Shared { owner, offset, len })
    }
}

impl<T: Pod> Deref for Buf<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        match self {
            Buf::Owned(v) => v,
            Buf::Shared { owner, offset, len } => {
                let bytes = owner.bytes();
                // SAFETY: `Buf::shared` checked that `offset + len *
                // size_of::<T>()` is inside the bytes and that the address is
                // aligned for `T`; `StableBytes` promises the same bytes at the
                // same address on every call; `T: Pod` accepts any bit pattern.
                unsafe { std::slice::from_raw_parts(bytes.as_ptr().add(*offset).cast::<T>(), *len) }
            }
            Buf::Lazy(l) => l.value.get_or_init(|| (l.init)()),
        }
    }
}

impl<T: Pod> Default for Buf<T> {
    fn default() -> Self {
        Buf::Owned(Vec::new())
    }
}

impl<T: Pod> Clone for Buf<T> {
    fn clone(&self) -> Self {
        match self {
            Buf::Owned(v) => Buf::Owned(v.clone()),
            Buf::Shared { owner, offset, len } => Buf::Shared {
                owner: Arc::clone(owner),
                offset: *offset,
                len: *len,
            },
            Buf::Lazy(l) => Buf::Lazy(Arc::clone(l)),
        }
    }
}

impl<T: Pod + PartialEq> PartialEq for Buf<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: Pod + fmt::Debug> fmt::Debug for Buf<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Buf::Owned(_) => "owned",
            Buf::Shared { .. } => "shared",
            Buf::Lazy(l) if l.value.get().is_none() => return write!(f, "Buf<lazy; unread>"),
            Buf::Lazy(_) => "lazy",
        };
        write!(f, "Buf<{kind}; {}>", self.len())
    }
}

/// The raw bytes of a slice of POD values, for writing them out.
pub(crate) fn as_bytes<T: Pod>(v: &[T]) -> &[u8] {
    // SAFETY: `T: Pod` has no padding, so every byte is initialized; u8 has
    // no alignment requirement.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_bytes_keep_every_length_and_are_aligned() {
        let src: Vec<u8> = (0..=40u8).map(|b| b.wrapping_mul(37)).collect();
        for n in 0..src.len() {
            let a = AlignedBytes::copy_from(&src[..n]);
            assert_eq!(a.bytes(), &src[..n]);
            assert!((a.bytes().as_ptr() as usize).is_multiple_of(8));
        }
    }

    #[test]
    fn shared_views_are_checked_and_read_the_owner() {
        let words: Vec<u32> = (0..16).map(|i| i * 0x0101_0101).collect();
        let owner: Arc<dyn StableBytes> = Arc::new(AlignedBytes::copy_from(as_bytes(&words)));
        let b = Buf::<u32>::shared(Arc::clone(&owner), 8, 10).unwrap();
        assert_eq!(&*b, &words[2..12]);
        assert_eq!(&*b.clone(), &words[2..12]);
        assert_eq!(
            &*Buf::<u32>::shared(Arc::clone(&owner), 64, 0).unwrap(),
            &[]
        );
        // Past the end, overflowing, misaligned.
        assert!(Buf::<u32>::shared(Arc::clone(&owner), 8, 15).is_none());
        assert!(Buf::<u32>::shared(Arc::clone(&owner), 68, 0).is_none());
        assert!(Buf::<u32>::shared(Arc::clone(&owner), usize::MAX, 1).is_none());
        assert!(Buf::<u32>::shared(Arc::clone(&owner), 0, usize::MAX).is_none());
        assert!(Buf::<u32>::shared(Arc::clone(&owner), 2, 1).is_none());
        let bytes = Buf::<u8>::shared(owner, 1, 5).unwrap();
        assert_eq!(&*bytes, &as_bytes(&words)[1..6]);
    }

    #[test]
    fn lazy_arrays_are_built_once_on_first_read() {
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c = Arc::clone(&calls);
        let b = Buf::<f32>::lazy(move || {
            c.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            vec![1.5, 2.5]
        });
        assert!(b.is_pending());
        let shared = b.clone();
        assert_eq!(&*b, &[1.5, 2.5]);
        assert_eq!(&*shared, &[1.5, 2.5]);
        assert!(!b.is_pending());
        assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 1);
        assert_eq!(format!("{:?}", Buf::Owned(vec![0u32; 3])), "Buf<owned; 3>");
    }
}

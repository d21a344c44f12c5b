//! x86-64 kernels, chosen once at run time.

pub(crate) mod avx512;

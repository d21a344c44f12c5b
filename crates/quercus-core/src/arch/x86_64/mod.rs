//! x86-64 kernels: the AVX-512 one chosen at run time, the scalar walk in
//! baseline assembly.

pub(crate) mod avx512;
pub(crate) mod walk;

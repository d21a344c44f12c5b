//! Architecture-specific kernels. Each is an accelerated copy of a portable
//! kernel in [`crate::packed::fast`], tested against it and the reference.

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64;

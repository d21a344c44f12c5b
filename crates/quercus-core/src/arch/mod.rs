//! The walks of the packed layouts: portable ones ([`portable`]), and
//! architecture-specific ones, each an accelerated copy of a portable walk
//! (or of a kernel of [`crate::packed::fast`]), tested against it and the
//! reference. This module depends only on [`crate::layout`];
//! [`crate::packed::fast`] chooses among its walks.

pub(crate) mod portable;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64;

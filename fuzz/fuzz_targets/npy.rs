//! Fuzzes the CLI's `.npy` reader (`quercus::io::read_npy`, 2-D, and
//! `read_npy_any`, any shape): any input must parse or fail with a typed
//! error; a parsed array's values must match its shape. A panic, a hang or
//! an out-of-memory is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quercus::io::{read_npy, read_npy_any};

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = read_npy(data) {
        assert_eq!(Some(t.data.len()), t.rows.checked_mul(t.cols), "table size");
    }
    if let Ok((values, shape)) = read_npy_any(data) {
        let count = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        assert_eq!(Some(values.len()), count, "array size");
    }
});

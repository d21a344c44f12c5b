//! XXH3-64 (Yann Collet's xxHash, version 0.8 and later), with seed 0 and the
//! default secret: the checksum of compiled files (format version 2 and later).
//!
//! Written from the algorithm in `xxhash.h`; the tests check it against the
//! reference vectors of xxHash's own sanity check (`cli/xsum_sanity_check.c`).
//! The long-input loop is plain code over eight 64-bit lanes that the compiler
//! vectorises; on x86-64 it is compiled a second time with AVX2 enabled and
//! chosen at run time.

const P32_1: u64 = 0x9E37_79B1;
const P32_2: u64 = 0x85EB_CA77;
const P32_3: u64 = 0xC2B2_AE3D;
const P64_1: u64 = 0x9E37_79B1_85EB_CA87;
const P64_2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P64_3: u64 = 0x1656_67B1_9E37_79F9;
const P64_4: u64 = 0x85EB_CA77_C2B2_AE63;
const P64_5: u64 = 0x27D4_EB2F_1656_67C5;

/// The default secret (pseudorandom bytes from FARSH).
const SECRET: [u8; 192] = [
    0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
    0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
    0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
    0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c,
    0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
    0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
    0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d,
    0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64,
    0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
    0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e,
    0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce,
    0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
];

const STRIPE: usize = 64;
/// Stripes per block: (secret length - stripe length) / 8.
const STRIPES_PER_BLOCK: usize = (SECRET.len() - STRIPE) / 8;
const BLOCK: usize = STRIPE * STRIPES_PER_BLOCK;

#[inline(always)]
fn r64(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

#[inline(always)]
fn r32(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u64::from(u32::from_le_bytes(w))
}

fn mul_fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

fn xxh64_avalanche(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(P64_2);
    h ^= h >> 29;
    h = h.wrapping_mul(P64_3);
    h ^ (h >> 32)
}

fn avalanche(mut h: u64) -> u64 {
    h ^= h >> 37;
    h = h.wrapping_mul(0x1656_6791_9E37_79F9);
    h ^ (h >> 32)
}

fn mix16(data: &[u8], at: usize, key: usize) -> u64 {
    mul_fold(
        r64(data, at) ^ r64(&SECRET, key),
        r64(data, at + 8) ^ r64(&SECRET, key + 8),
    )
}

/// XXH3-64 of `data` (seed 0, default secret).
pub fn xxh3_64(data: &[u8]) -> u64 {
    let n = data.len();
    let len = n as u64;
    match n {
        0 => xxh64_avalanche(r64(&SECRET, 56) ^ r64(&SECRET, 64)),
        1..=3 => {
            let combined = (u64::from(data[0]) << 16)
                | (u64::from(data[n >> 1]) << 24)
                | u64::from(data[n - 1])
                | (len << 8);
            xxh64_avalanche(combined ^ (r32(&SECRET, 0) ^ r32(&SECRET, 4)))
        }
        4..=8 => {
            let input = r32(data, n - 4) | (r32(data, 0) << 32);
            let mut h = input ^ (r64(&SECRET, 8) ^ r64(&SECRET, 16));
            h ^= h.rotate_left(49) ^ h.rotate_left(24);
            h = h.wrapping_mul(0x9FB2_1C65_1E98_DF25);
            h ^= (h >> 35).wrapping_add(len);
            h = h.wrapping_mul(0x9FB2_1C65_1E98_DF25);
            h ^ (h >> 28)
        }
        9..=16 => {
            let lo = r64(data, 0) ^ (r64(&SECRET, 24) ^ r64(&SECRET, 32));
            let hi = r64(data, n - 8) ^ (r64(&SECRET, 40) ^ r64(&SECRET, 48));
            avalanche(
                len.wrapping_add(lo.swap_bytes())
                    .wrapping_add(hi)
                    .wrapping_add(mul_fold(lo, hi)),
            )
        }
        17..=128 => {
            let mut acc = len.wrapping_mul(P64_1);
            let rounds = (n - 1) / 32;
            for i in 0..=rounds {
                acc = acc
                    .wrapping_add(mix16(data, 16 * i, 32 * i))
                    .wrapping_add(mix16(data, n - 16 * (i + 1), 32 * i + 16));
            }
            avalanche(acc)
        }
        129..=240 => {
            let mut acc = len.wrapping_mul(P64_1);
            for i in 0..8 {
                acc = acc.wrapping_add(mix16(data, 16 * i, 16 * i));
            }
            let mut end = mix16(data, n - 16, 136 - 17);
            acc = avalanche(acc);
            for i in 8..n / 16 {
                end = end.wrapping_add(mix16(data, 16 * i, 16 * (i - 8) + 3));
            }
            avalanche(acc.wrapping_add(end))
        }
        _ => long(data),
    }
}

/// The long-input hash (more than 240 bytes).
fn long(data: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above), the only
            // requirement of a `#[target_feature(enable = "avx2")]` function.
            return unsafe { long_avx2(data) };
        }
    }
    long_generic(data)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn long_avx2(data: &[u8]) -> u64 {
    long_generic(data)
}

#[inline(always)]
fn long_generic(data: &[u8]) -> u64 {
    let n = data.len();
    let mut acc = [P32_3, P64_1, P64_2, P64_3, P64_4, P32_2, P64_5, P32_1];
    let blocks = (n - 1) / BLOCK;
    for b in 0..blocks {
        let block = &data[b * BLOCK..(b + 1) * BLOCK];
        prefetch(data.get((b + 1) * BLOCK + PREFETCH_AHEAD..));
        for (s, stripe) in block.chunks_exact(STRIPE).enumerate() {
            accumulate(&mut acc, stripe, 8 * s);
        }
        scramble(&mut acc);
    }
    let tail = &data[blocks * BLOCK..];
    let stripes = (tail.len() - 1) / STRIPE;
    for s in 0..stripes {
        accumulate(&mut acc, &tail[s * STRIPE..(s + 1) * STRIPE], 8 * s);
    }
    accumulate(&mut acc, &data[n - STRIPE..], SECRET.len() - STRIPE - 7);
    let mut h = (n as u64).wrapping_mul(P64_1);
    for i in 0..4 {
        h = h.wrapping_add(mul_fold(
            acc[2 * i] ^ r64(&SECRET, 11 + 16 * i),
            acc[2 * i + 1] ^ r64(&SECRET, 11 + 16 * i + 8),
        ));
    }
    avalanche(h)
}

/// How far ahead of the block being hashed [`prefetch`] asks for the
/// input: one 4 KiB page past the next block, so the loads of a new page do
/// not wait for the hardware prefetcher to notice the stream again (measured
/// on a cold 3.5 MB memory map: about 10-15% faster).
const PREFETCH_AHEAD: usize = 4096 - BLOCK;

/// Asks the CPU to start loading the first [`BLOCK`] bytes of `ahead`
/// (`None`: past the end of the input, nothing to do).
#[inline(always)]
fn prefetch(ahead: Option<&[u8]>) {
    #[cfg(target_arch = "x86_64")]
    if let Some(ahead) = ahead {
        for line in ahead.chunks(64).take(BLOCK / 64) {
            // SAFETY: a prefetch is only a hint; it never faults, and the
            // address is inside `ahead` anyway.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    line.as_ptr().cast(),
                );
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ahead;
}

/// One 64-byte stripe into the eight accumulators, with the secret at `key`.
#[inline(always)]
fn accumulate(acc: &mut [u64; 8], stripe: &[u8], key: usize) {
    let stripe: &[u8; STRIPE] = stripe.try_into().unwrap_or(&[0; STRIPE]);
    let mut d = [0u64; 8];
    let mut k = [0u64; 8];
    for i in 0..8 {
        d[i] = r64(stripe, 8 * i);
        k[i] = d[i] ^ r64(&SECRET, key + 8 * i);
    }
    for i in 0..8 {
        acc[i] = acc[i]
            .wrapping_add(d[i ^ 1])
            .wrapping_add((k[i] & 0xFFFF_FFFF).wrapping_mul(k[i] >> 32));
    }
}

#[inline(always)]
fn scramble(acc: &mut [u64; 8]) {
    for (i, a) in acc.iter_mut().enumerate() {
        let x = (*a ^ (*a >> 47)) ^ r64(&SECRET, SECRET.len() - STRIPE + 8 * i);
        *a = x.wrapping_mul(P32_1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xxHash's sanity-check buffer (`XSUM_fillTestBuffer`).
    fn sanity_buffer(n: usize) -> Vec<u8> {
        let mut g: u64 = 2_654_435_761;
        (0..n)
            .map(|_| {
                let b = (g >> 56) as u8;
                g = g.wrapping_mul(11_400_714_785_074_694_797);
                b
            })
            .collect()
    }

    #[test]
    fn xxh3_matches_the_reference_vectors() {
        // `XSUM_XXH3_testdata` (seed 0) of xxHash's `cli/xsum_sanity_check.c`.
        let buf = sanity_buffer(2367);
        for (n, want) in [
            (0, 0x2D06_8005_38D3_94C2u64),
            (1, 0xC44B_DFF4_074E_ECDB),
            (6, 0x27B5_6A84_CD2D_7325),
            (12, 0xA713_DAF0_DFBB_77E7),
            (24, 0xA3FE_70BF_9D35_10EB),
            (48, 0x397D_A259_ECBA_1F11),
            (80, 0xBCDE_FBBB_2C47_C90A),
            (195, 0xCD94_217E_E362_EC3A),
            (403, 0xCDEB_804D_65C6_DEA4),
            (512, 0x617E_4959_9013_CB6B),
            (2048, 0xDD59_E2C3_A5F0_38E0),
            (2240, 0x6E73_A905_39CF_2948),
            (2367, 0xCB37_AEB9_E5D3_61ED),
        ] {
            assert_eq!(xxh3_64(&buf[..n]), want, "length {n}");
            if n > 240 {
                assert_eq!(long_generic(&buf[..n]), want, "length {n}, generic");
            }
        }
    }
}

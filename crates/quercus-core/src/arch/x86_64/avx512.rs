//! AVX-512F: sixteen rows of a lane-major group walk a tree together, one
//! gather per node field and one for the feature values per step.

use std::arch::x86_64::*;

use crate::packed::{DEFAULT_LEFT, FEATURE_MASK, PackedForest};

/// Rows walked together.
pub(crate) const LANES: usize = 16;

/// True when the packed forest's indices fit the 32-bit gather offsets used
/// here (node index × 3 words, feature × 16 + lane).
pub(crate) fn fits(p: &PackedForest) -> bool {
    p.nodes
        .len()
        .checked_mul(3)
        .is_some_and(|n| n < i32::MAX as usize)
        && p.num_features
            .checked_mul(LANES)
            .is_some_and(|n| n < i32::MAX as usize)
}

/// [`crate::packed::fast::group`] for [`LANES`] rows with AVX-512F.
///
/// # Safety
/// The CPU must support AVX-512F, and [`fits`] must hold for `p`.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn group<const NAN: bool>(
    p: &PackedForest,
    trees: std::ops::Range<usize>,
    outputs: &[u32],
    xg: &[f32],
    acc: &mut [f32],
    g: usize,
    k: usize,
) {
    assert!(xg.len() >= p.num_features * LANES && acc.len() >= k * g && k <= LANES);
    assert!(p.all_fast(trees.clone()));
    let meta = &p.trees[trees.clone()];
    let base = p.nodes.as_ptr() as *const u8;
    let lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let one = _mm512_set1_epi32(1);
    let fmask = _mm512_set1_epi32(FEATURE_MASK as i32);
    let dleft = _mm512_set1_epi32(DEFAULT_LEFT as i32);
    let walk = |root: u32, depth: u32| -> __m512i {
        let mut idx = _mm512_set1_epi32(root as i32);
        for _ in 0..depth {
            // SAFETY: as in the portable kernel, every index stays inside its
            // fast tree (`verify_tree`), so `idx * 12` bytes is a node of
            // `p.nodes` (12 bytes each: threshold, feature, left); `fits`
            // keeps `idx * 3` within i32. Feature indices are
            // `< num_features`, so `f * 16 + lane < xg.len()`.
            unsafe {
                let words = _mm512_add_epi32(idx, _mm512_slli_epi32::<1>(idx));
                let thr = _mm512_i32gather_ps::<4>(words, base as *const f32);
                let feat = _mm512_i32gather_epi32::<4>(words, base.add(4) as *const i32);
                let left = _mm512_i32gather_epi32::<4>(words, base.add(8) as *const i32);
                let xi =
                    _mm512_add_epi32(_mm512_slli_epi32::<4>(_mm512_and_si512(feat, fmask)), lane);
                let x = _mm512_i32gather_ps::<4>(xi, xg.as_ptr());
                // `!(x < t)`: true for NaN, exactly as the scalar step.
                let mut right = _mm512_cmp_ps_mask::<_CMP_NLT_UQ>(x, thr);
                if NAN {
                    let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x);
                    let missing_left = nan & _mm512_test_epi32_mask(feat, dleft);
                    right &= !missing_left;
                }
                idx = _mm512_mask_add_epi32(left, right, left, one);
            }
        }
        idx
    };
    if g == 1 {
        let kmask: __mmask16 = if k == LANES { !0 } else { (1u16 << k) - 1 };
        // SAFETY: `kmask` covers the first `k <= acc.len()` values.
        let mut s = unsafe { _mm512_maskz_loadu_ps(kmask, acc.as_ptr()) };
        for t in meta {
            let idx = walk(t.root, t.depth);
            // SAFETY: `idx` holds node indices of a fast tree; `leaf_value`
            // has one value per node.
            let v = unsafe { _mm512_i32gather_ps::<4>(idx, p.leaf_value.as_ptr()) };
            s = _mm512_add_ps(s, v);
        }
        // SAFETY: as for the load.
        unsafe { _mm512_mask_storeu_ps(acc.as_mut_ptr(), kmask, s) };
    } else {
        let mut lanes = [0u32; LANES];
        for (t, meta) in trees.zip(meta) {
            let idx = walk(meta.root, meta.depth);
            // SAFETY: `lanes` holds 16 u32.
            unsafe { _mm512_storeu_si512(lanes.as_mut_ptr() as *mut __m512i, idx) };
            let o = outputs[t] as usize;
            for (j, &i) in lanes.iter().enumerate().take(k) {
                acc[j * g + o] += p.leaf_value[i as usize];
            }
        }
    }
}

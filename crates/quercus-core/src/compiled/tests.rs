//! Round trips, corrupted, truncated and hostile files.

use std::sync::Arc;

use super::read::PARALLEL_CHECK_BYTES;
use super::*;
use crate::Result;
use crate::buf::AlignedBytes;
use crate::forest::{Booster, Forest, ForestParts, Semantics};
use crate::layout::LANES;
use crate::objective::Objective;
use crate::predict::Output;
use crate::predict::tests::random_tree;
use crate::tree::{CategorySet, Node, Tree, TreeEnsemble};
use crate::{FeatureMatrix, Kernel, PredictOptions};

/// A one-output regression forest of `trees`, one per round.
fn regression(trees: Vec<Tree>, num_features: usize) -> Forest {
    let n = trees.len();
    let e = TreeEnsemble::new(trees, vec![0; n], None, TreeEnsemble::uniform_rounds(n, 1)).unwrap();
    Forest::new(ForestParts {
        num_features,
        num_outputs: 1,
        base_margin: vec![0.5],
        objective: Objective::from_xgboost_name("reg:squarederror").unwrap(),
        booster: Booster::Trees(e),
        semantics: Semantics::default(),
        feature_names: vec![],
        feature_types: vec![],
    })
    .unwrap()
}

fn forest(seed: u64, groups: usize, weighted: bool, deepest: usize) -> Forest {
    let mut rng = seed;
    let nf = 4;
    // Under Miri, fewer and smaller trees: every open hashes the whole file.
    let (n, depths) = if cfg!(miri) {
        (12, [0, 2, 3, deepest])
    } else {
        (24, [0, 3, 6, deepest])
    };
    let mut trees: Vec<Tree> = (0..n)
        .map(|t| random_tree(&mut rng, nf, depths[t % 4]))
        .collect();
    // A categorical tree: stored as IR, not packed.
    trees[5] = Tree::new(
        vec![
            Node::Split {
                feature: 1,
                threshold: f32::NAN,
                default_left: true,
                left: 1,
                right: 2,
                categories: Some(0),
            },
            Node::Leaf { value: 0.25 },
            Node::Leaf { value: -0.5 },
        ],
        vec![CategorySet::new(vec![1, 3]).unwrap()],
        nf,
    )
    .unwrap();
    let outputs = (0..n).map(|t| (t % groups) as u32).collect();
    let weights = weighted.then(|| (0..n).map(|t| 1.0 - t as f32 / 64.0).collect());
    let e = TreeEnsemble::new(
        trees,
        outputs,
        weights,
        TreeEnsemble::uniform_rounds(n, groups),
    )
    .unwrap();
    Forest::new(ForestParts {
        num_features: nf,
        num_outputs: groups,
        base_margin: vec![0.5; groups],
        objective: Objective::from_xgboost_name(if groups > 1 {
            "multi:softprob"
        } else {
            "binary:logistic"
        })
        .unwrap(),
        booster: Booster::Trees(e),
        semantics: Semantics::default(),
        feature_names: (0..nf).map(|i| format!("f{i}")).collect(),
        feature_types: vec![],
    })
    .unwrap()
}

fn open(bytes: &[u8]) -> Result<(Forest, std::ops::Range<usize>)> {
    read(Arc::new(AlignedBytes::copy_from(bytes)))
}

#[test]
fn a_compiled_forest_predicts_and_rebuilds_exactly() {
    // Under Miri: shallower trees, fewer rows (still past a lane group).
    let (deepest, rows) = if cfg!(miri) { (5, 11) } else { (14, 300) };
    for (groups, weighted) in [(1, false), (3, false), (1, true)] {
        let f = forest(42 + groups as u64, groups, weighted, deepest);
        let bytes = write(&f, b"extra!");
        let (g, extra) = open(&bytes).unwrap();
        assert_eq!(&bytes[extra], b"extra!");
        let x: Vec<f32> = (0..4 * rows)
            .map(|i| {
                if i % 13 == 0 {
                    f32::NAN
                } else {
                    (i % 9) as f32 * 0.25
                }
            })
            .collect();
        let m = FeatureMatrix::row_major(&x, rows, 4).unwrap();
        for kernel in Kernel::available() {
            for leaf in [false, true] {
                let o = PredictOptions {
                    output: Output::from_flags(false, leaf),
                    kernel,
                    ..Default::default()
                };
                assert_eq!(f.predict(&m, &o).unwrap(), g.predict(&m, &o).unwrap());
            }
        }
        // The IR rebuilt from the packed layout is the original one.
        // (Debug, because the categorical split's NaN threshold is != itself.)
        assert_eq!(format!("{:?}", f.booster()), format!("{:?}", g.booster()));
        assert_eq!(f.feature_names(), g.feature_names());
    }
}

#[test]
fn every_corruption_is_rejected_and_nothing_panics() {
    let f = forest(7, 2, false, 4);
    let bytes = write(&f, b"");
    // Under Miri, every 157th byte and length, and fewer hostile files.
    let stride = if cfg!(miri) { 157 } else { 1 };
    // Any one changed byte: the header checks or the checksum catch it.
    for i in (0..bytes.len()).step_by(stride) {
        let mut b = bytes.clone();
        b[i] ^= 0x5a;
        assert!(open(&b).is_err(), "byte {i} flipped was accepted");
    }
    for n in (0..bytes.len()).step_by(stride) {
        assert!(open(&bytes[..n]).is_err(), "truncated to {n} accepted");
    }
    // A hostile file carries a valid checksum: loading must still check
    // every count and index (an error or a consistent model, no panic).
    let mut rng = 99u64;
    for _ in 0..if cfg!(miri) { 20 } else { 20000 } {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let mut b = bytes.clone();
        let i = 32 + (rng as usize % (b.len() - 32));
        b[i] = (rng >> 32) as u8;
        let sum = checksum(&b[32..]);
        b[24..32].copy_from_slice(&sum.to_le_bytes());
        if let Ok((g, _)) = open(&b) {
            let x: Vec<f32> = (0..36).map(|i| (i % 5) as f32 * 0.5).collect();
            for rows in [2, 9] {
                let m = FeatureMatrix::row_major(&x[..rows * 4], rows, 4).unwrap();
                for kernel in Kernel::available() {
                    for pred_leaf in [false, true] {
                        let o = PredictOptions {
                            output: Output::from_flags(false, pred_leaf),
                            kernel,
                            ..Default::default()
                        };
                        let _ = g.predict(&m, &o);
                    }
                }
            }
        }
    }
}

#[test]
fn a_version_1_file_asks_to_be_recompiled() {
    let f = forest(3, 1, false, 4);
    let mut bytes = write(&f, b"");
    assert_eq!(
        u32::from_le_bytes(bytes[8..12].try_into().unwrap()),
        VERSION
    );
    bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
    let e = open(&bytes).unwrap_err().to_string();
    assert!(
        e.contains("version 1") && e.contains("older") && e.contains("quercus compile"),
        "{e}"
    );
    bytes[8..12].copy_from_slice(&(VERSION + 1).to_le_bytes());
    let e = open(&bytes).unwrap_err().to_string();
    assert!(e.contains("newer") && e.contains("quercus compile"), "{e}");
}

#[test]
#[cfg_attr(miri, ignore = "hashes megabytes: too slow under Miri")]
fn the_checksum_covers_everything_after_it_in_chunks() {
    let bytes = write(&forest(5, 2, true, 6), b"meta");
    let stored = u64::from_le_bytes(bytes[24..32].try_into().unwrap());
    assert!(bytes.len() - 32 < CHECKSUM_CHUNK);
    assert_eq!(stored, xxh3_64(&xxh3_64(&bytes[32..]).to_le_bytes()));
    // Several chunks, the last one short: the parallel path (a file of
    // at least `PARALLEL_CHECK_BYTES`) and the definition agree.
    let body: Vec<u8> = (0..2 * CHECKSUM_CHUNK + 1000)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    let sums: Vec<u8> = body
        .chunks(CHECKSUM_CHUNK)
        .flat_map(|c| xxh3_64(c).to_le_bytes())
        .collect();
    assert_eq!(checksum(&body), xxh3_64(&sums));
    assert_eq!(checksum(&[]), xxh3_64(&[]));
    let big = write(&forest(5, 2, true, 6), &body);
    assert!(big.len() >= PARALLEL_CHECK_BYTES);
    assert!(open(&big).is_ok());
    for at in [40, 5000, big.len() / 2, big.len() - 1] {
        let mut b = big.clone();
        b[at] ^= 1;
        assert!(
            open(&b).unwrap_err().to_string().contains("checksum"),
            "{at}"
        );
    }
}

/// The length of section `sid` of a compiled file.
fn section_len(bytes: &[u8], sid: u32) -> usize {
    let count = u32::from_le_bytes(bytes[32..36].try_into().unwrap()) as usize;
    (0..count)
        .map(|i| HEADER + i * 24)
        .find(|&at| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) == sid)
        .map(|at| u64::from_le_bytes(bytes[at + 16..at + 24].try_into().unwrap()) as usize)
        .unwrap()
}

#[test]
fn trees_numbered_in_order_store_no_node_numbers() {
    // Breadth-first numbering (XGBoost's depthwise trees) next to
    // depth-first numbering (like lossguide trees, and `random_tree`).
    let split = |feature, left| Node::Split {
        feature,
        threshold: 0.5,
        default_left: feature == 1,
        left,
        right: left + 1,
        categories: None,
    };
    let leaf = |value| Node::Leaf { value };
    let bfs = Tree::new(
        vec![
            split(0, 1),
            split(1, 3),
            split(2, 5),
            leaf(1.0),
            leaf(2.0),
            leaf(3.0),
            leaf(4.0),
        ],
        vec![],
        4,
    )
    .unwrap();
    // Node 0's children are 1 and 4, node 1's are 2 and 3.
    let dfs = Tree::new(
        vec![
            Node::Split {
                feature: 0,
                threshold: 0.5,
                default_left: false,
                left: 1,
                right: 4,
                categories: None,
            },
            split(1, 2),
            leaf(1.0),
            leaf(2.0),
            leaf(3.0),
        ],
        vec![],
        4,
    )
    .unwrap();
    let mut rng = 5u64;
    let trees = vec![bfs.clone(), dfs.clone(), random_tree(&mut rng, 4, 6), bfs];
    let f = regression(trees, 4);
    let bytes = write(&f, b"");
    let p = f.packed();
    let out_of_order: u32 = p.trees[1..3].iter().map(|t| t.len).sum();
    assert_eq!(section_len(&bytes, id::ORIGINAL), 4 * out_of_order as usize);
    let (g, _) = open(&bytes).unwrap();
    assert!(g.packed().original.is_pending());
    let x: Vec<f32> = (0..4 * 40)
        .map(|i| {
            if i % 11 == 0 {
                f32::NAN
            } else {
                (i % 7) as f32 * 0.2
            }
        })
        .collect();
    let m = FeatureMatrix::row_major(&x, 40, 4).unwrap();
    for kernel in Kernel::available() {
        let o = PredictOptions {
            output: Output::Leaf,
            kernel,
            ..Default::default()
        };
        assert_eq!(f.predict(&m, &o).unwrap(), g.predict(&m, &o).unwrap());
    }
    assert!(!g.packed().original.is_pending());
    assert_eq!(&*g.packed().original, &*p.original);
    assert_eq!(format!("{:?}", f.booster()), format!("{:?}", g.booster()));
    // The stored numbers must cover exactly the trees out of order.
    for flip in [0u32, 1] {
        let mut b = bytes.clone();
        let toff = (0..10)
            .map(|i| HEADER + i * 24)
            .find(|&at| u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) == id::TREES)
            .map(|at| u64::from_le_bytes(b[at + 8..at + 16].try_into().unwrap()) as usize)
            .unwrap();
        let at = toff + 32 * flip as usize + 16;
        b[at] ^= FLAG_NUMBERED_IN_ORDER as u8;
        let sum = checksum(&b[32..]);
        b[24..32].copy_from_slice(&sum.to_le_bytes());
        let e = open(&b).unwrap_err().to_string();
        assert!(e.contains("node numbers"), "{e}");
    }
}

/// The offset of section `sid` of a compiled file.
fn section_offset(bytes: &[u8], sid: u32) -> usize {
    let count = u32::from_le_bytes(bytes[32..36].try_into().unwrap()) as usize;
    (0..count)
        .map(|i| HEADER + i * 24)
        .find(|&at| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) == sid)
        .map(|at| u64::from_le_bytes(bytes[at + 8..at + 16].try_into().unwrap()) as usize)
        .unwrap()
}

#[test]
#[cfg_attr(
    miri,
    ignore = "1200 trees over several checksum chunks: too slow under Miri"
)]
fn node_checks_beside_the_checksum_cover_every_chunk() {
    // Enough trees for the nodes to span several checksum chunks, so the
    // checks run in parts on two threads.
    let mut rng = 11u64;
    let n = 1200;
    let trees: Vec<Tree> = (0..n).map(|_| random_tree(&mut rng, 6, 9)).collect();
    let f = regression(trees, 6);
    let bytes = write(&f, b"");
    let p = f.packed();
    let nodes_at = section_offset(&bytes, id::NODES);
    let imp_at = section_offset(&bytes, id::IMP_NODES);
    assert!(nodes_at + 12 * p.nodes.len() > 32 + 3 * CHECKSUM_CHUNK);
    assert!(p.imp_nodes.len() > 1000);
    let (g, _) = open(&bytes).unwrap();
    let x: Vec<f32> = (0..6 * 20).map(|i| (i % 9) as f32 * 0.25).collect();
    let m = FeatureMatrix::row_major(&x, 20, 6).unwrap();
    let o = PredictOptions::default();
    assert_eq!(f.predict(&m, &o).unwrap(), g.predict(&m, &o).unwrap());
    let reseal = |b: &mut Vec<u8>| {
        let sum = checksum(&b[32..]);
        b[24..32].copy_from_slice(&sum.to_le_bytes());
    };
    // A broken tree in every region of the node array is found, and the
    // error names it (the first broken one when there are several).
    let fast: Vec<usize> = (0..n)
        .filter(|&t| p.trees[t].fast && p.trees[t].len > 1)
        .collect();
    for &t in [
        fast[0],
        fast[fast.len() / 3],
        fast[fast.len() / 2],
        fast[fast.len() - 1],
    ]
    .iter()
    {
        let mut b = bytes.clone();
        let root = p.trees[t].root as usize;
        // The root's left child becomes the root itself: a cycle.
        b[nodes_at + 12 * root + 8..nodes_at + 12 * root + 12]
            .copy_from_slice(&(root as u32).to_le_bytes());
        reseal(&mut b);
        let err = open(&b).unwrap_err();
        assert!(err.to_string().contains(&format!("tree {t}")), "{t}: {err}");
        let later = *fast.last().unwrap();
        if later != t {
            let root = p.trees[later].root as usize;
            b[nodes_at + 12 * root + 8..nodes_at + 12 * root + 12]
                .copy_from_slice(&(root as u32).to_le_bytes());
            reseal(&mut b);
            let err = open(&b).unwrap_err();
            assert!(err.to_string().contains(&format!("tree {t}")), "{t}: {err}");
        }
    }
    // An implicit node anywhere with a feature the model does not have
    // (`fx`, the first field, past the two copies of the six features).
    for k in [0, p.imp_nodes.len() / 2, p.imp_nodes.len() - 1] {
        let mut b = bytes.clone();
        let at = imp_at + 8 * k;
        b[at..at + 4].copy_from_slice(&(2 * 6 * LANES as u32).to_le_bytes());
        reseal(&mut b);
        let err = open(&b).unwrap_err().to_string();
        assert!(err.contains("outside the node array"), "{k}: {err}");
    }
}

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
    // `XSUM_XXH3_testdata` (seed 0) of xxHash's `cli/xsum_sanity_check.c`,
    // then two lengths past a megabyte (many blocks, a partial last
    // stripe) as Quercus's own XXH3 computed them before the xxhash-rust
    // crate replaced it: the checksums of existing files stay valid.
    // (Under Miri, which hashes a few kilobytes a second, not the last two.)
    let buf = sanity_buffer(if cfg!(miri) { 2367 } else { (1 << 20) + 7 });
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
        (1 << 20, 0x7ADE_52BB_FBD6_97BA),
        ((1 << 20) + 7, 0x525A_20ED_FB0D_E181),
    ]
    .into_iter()
    .filter(|&(n, _)| n <= buf.len())
    {
        assert_eq!(xxh3_64(&buf[..n]), want, "length {n}");
    }
}

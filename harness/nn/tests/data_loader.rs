//! IDX loading (plain and gzip), normalization, and the errors for missing or corrupt files.

use std::path::Path;

use compbench_core::data::DataLocator;
use compbench_core::{DataError, Dataset};
use compbench_nn::data::fashion_mnist::{FILES, load_dir, normalize};
use compbench_nn::data::idx::{encode_idx, gzip, read_idx};
use compbench_nn::data::{FashionMnist, Synthetic, calibration_subset};

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// A full-size fake Fashion-MNIST (pattern bytes), gzip or plain.
fn fake_dataset(dir: &Path, gz: bool) {
    let sizes = [
        (60_000usize, FILES[0], FILES[1]),
        (10_000, FILES[2], FILES[3]),
    ];
    for (n, img, lab) in sizes {
        let pixels: Vec<u8> = (0..n * 784).map(|i| (i % 251) as u8).collect();
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        let (ib, lb) = (encode_idx(&[n, 28, 28], &pixels), encode_idx(&[n], &labels));
        if gz {
            write(dir, &format!("{img}.gz"), &gzip(&ib));
            write(dir, &format!("{lab}.gz"), &gzip(&lb));
        } else {
            write(dir, img, &ib);
            write(dir, lab, &lb);
        }
    }
}

#[test]
fn idx_round_trip_plain_and_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..2 * 3 * 4).map(|i| i as u8).collect();
    let bytes = encode_idx(&[2, 3, 4], &data);
    write(dir.path(), "a", &bytes);
    write(dir.path(), "a.gz", &gzip(&bytes));
    for name in ["a", "a.gz"] {
        let idx = read_idx(&dir.path().join(name), &[Some(2), None, Some(4)]).unwrap();
        assert_eq!(idx.dims, vec![2, 3, 4]);
        assert_eq!(idx.data, data);
    }
}

#[test]
fn full_dataset_loads_from_gzip_and_plain_with_same_fingerprint() {
    let (gz, plain) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    fake_dataset(gz.path(), true);
    fake_dataset(plain.path(), false);
    let a = load_dir(gz.path()).unwrap();
    let b = load_dir(plain.path()).unwrap();
    assert_eq!(a.fingerprint, b.fingerprint);
    assert_eq!(a.train.len(), 60_000);
    assert_eq!(a.test.len(), 10_000);
    assert_eq!(a.train.images[1], normalize(1));
    assert_eq!(a.test.labels[13], 3);
    assert!((normalize(0) - (-0.2860 / 0.3530)).abs() < 1e-6);
    // Found through the locator in a `fashion-mnist` subdirectory too.
    let root = tempfile::tempdir().unwrap();
    let sub = root.path().join("fashion-mnist");
    std::fs::create_dir(&sub).unwrap();
    fake_dataset(&sub, true);
    let loc = DataLocator {
        dirs: vec![root.path().join("nope"), root.path().to_path_buf()],
    };
    assert_eq!(FashionMnist.load(&loc).unwrap().fingerprint, a.fingerprint);
}

#[test]
fn missing_dataset_names_file_places_and_fetch_command() {
    let dir = tempfile::tempdir().unwrap();
    let loc = DataLocator {
        dirs: vec![dir.path().to_path_buf()],
    };
    let msg = FashionMnist.load(&loc).unwrap_err().to_string();
    assert!(msg.contains("train-images-idx3-ubyte"), "{msg}");
    assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
    assert!(msg.contains("compbench data fetch"), "{msg}");
    assert!(
        msg.contains("apt-get install dataset-fashion-mnist"),
        "{msg}"
    );
}

#[test]
fn missing_test_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    fake_dataset(dir.path(), false);
    std::fs::remove_file(dir.path().join(FILES[3])).unwrap();
    let msg = load_dir(dir.path()).unwrap_err().to_string();
    assert!(msg.contains("t10k-labels-idx1-ubyte"), "{msg}");
    assert!(msg.contains("compbench data fetch"), "{msg}");
}

#[test]
fn corrupt_files_name_file_and_expectation() {
    let dir = tempfile::tempdir().unwrap();
    fake_dataset(dir.path(), false);
    let img = dir.path().join(FILES[0]);
    // Wrong magic.
    let mut bytes = std::fs::read(&img).unwrap();
    bytes[3] = 0x01;
    std::fs::write(&img, &bytes).unwrap();
    let err = load_dir(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::Corrupt { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("train-images-idx3-ubyte")
            && msg.contains("0x00000803")
            && msg.contains("compbench data fetch"),
        "{msg}"
    );
    // Truncated.
    bytes[3] = 0x03;
    bytes.truncate(1000);
    std::fs::write(&img, &bytes).unwrap();
    let msg = load_dir(dir.path()).unwrap_err().to_string();
    assert!(msg.contains("expected 47040016"), "{msg}");
    // Damaged gzip.
    std::fs::remove_file(&img).unwrap();
    std::fs::write(
        dir.path().join(format!("{}.gz", FILES[0])),
        [0x1f, 0x8b, 8, 0, 1, 2, 3],
    )
    .unwrap();
    let msg = load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        msg.contains("gzip") && msg.contains("train-images-idx3-ubyte.gz"),
        "{msg}"
    );
    // Wrong count.
    let small = encode_idx(&[5, 28, 28], &[0u8; 5 * 784]);
    std::fs::remove_file(dir.path().join(format!("{}.gz", FILES[0]))).unwrap();
    std::fs::write(&img, small).unwrap();
    let msg = load_dir(dir.path()).unwrap_err().to_string();
    assert!(msg.contains("dimension 0 is 5, expected 60000"), "{msg}");
}

#[test]
fn synthetic_is_seeded_and_calibration_subset_is_stable() {
    let a = Synthetic::new(100, 20, 7).generate();
    let b = Synthetic::new(100, 20, 7).generate();
    let c = Synthetic::new(100, 20, 8).generate();
    assert_eq!(a, b);
    assert_ne!(a.train.images, c.train.images);
    assert_ne!(a.fingerprint, c.fingerprint);
    let s1 = calibration_subset(&a.train, 10, 3);
    let s2 = calibration_subset(&a.train, 10, 3);
    assert_eq!(s1, s2);
    assert_eq!(s1.len(), 10);
    assert_eq!(calibration_subset(&a.train, 1000, 3).len(), 100);
}

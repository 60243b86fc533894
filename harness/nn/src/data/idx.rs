//! The IDX file format (LeCun's MNIST format, also Fashion-MNIST's): a big-endian magic
//! `0x0000_08NN` (0x08 = unsigned bytes, NN = number of dimensions), NN big-endian u32 sizes,
//! then the bytes. Files may be gzip-compressed (detected by the gzip magic, not the name).

use std::io::Read;
use std::path::Path;

use compbench_core::DataError;

/// A decoded IDX file of unsigned bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Idx {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Read `path` (plain or gzip) and check it has `expected_dims` dimensions and, where given,
/// the expected sizes (`None` = any). Errors name the file and what was expected.
pub fn read_idx(path: &Path, expected_dims: &[Option<usize>]) -> Result<Idx, DataError> {
    let raw = std::fs::read(path).map_err(|e| DataError::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| DataError::Corrupt {
                path: path.display().to_string(),
                message: format!(
                    "gzip stream is damaged ({e}); re-fetch it with `compbench data fetch`"
                ),
            })?;
        out
    } else {
        raw
    };
    decode_idx(&bytes, expected_dims).map_err(|message| DataError::Corrupt {
        path: path.display().to_string(),
        message: format!("{message}; re-fetch it with `compbench data fetch`"),
    })
}

/// Decode IDX bytes (already decompressed).
pub fn decode_idx(bytes: &[u8], expected_dims: &[Option<usize>]) -> Result<Idx, String> {
    let nd = expected_dims.len();
    let expected_magic = 0x0000_0800u32 | nd as u32;
    let header = 4 + 4 * nd;
    if bytes.len() < 4 {
        return Err(format!(
            "not an IDX file: {} bytes, expected magic 0x{expected_magic:08x} (unsigned bytes, {nd} dimensions)",
            bytes.len()
        ));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if magic != expected_magic {
        return Err(format!(
            "bad IDX magic 0x{magic:08x}, expected 0x{expected_magic:08x} (unsigned bytes, {nd} dimensions)"
        ));
    }
    if bytes.len() < header {
        return Err(format!(
            "truncated IDX header: {} bytes, expected at least {header}",
            bytes.len()
        ));
    }
    let dims: Vec<usize> = (0..nd)
        .map(|i| {
            u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().expect("4 bytes")) as usize
        })
        .collect();
    for (i, (got, want)) in dims.iter().zip(expected_dims).enumerate() {
        if let Some(want) = want
            && got != want
        {
            return Err(format!(
                "dimension {i} is {got}, expected {want} (dimensions {dims:?})"
            ));
        }
    }
    let payload: usize = dims.iter().product();
    if bytes.len() != header + payload {
        return Err(format!(
            "size is {} bytes, expected {} ({header}-byte header + {} for dimensions {dims:?})",
            bytes.len(),
            header + payload,
            payload
        ));
    }
    Ok(Idx {
        dims,
        data: bytes[header..].to_vec(),
    })
}

/// Encode an IDX file of unsigned bytes (tests and tools write fixtures with it).
pub fn encode_idx(dims: &[usize], data: &[u8]) -> Vec<u8> {
    assert_eq!(
        dims.iter().product::<usize>(),
        data.len(),
        "data must match dims"
    );
    let mut out = Vec::with_capacity(4 + 4 * dims.len() + data.len());
    out.extend_from_slice(&(0x0000_0800u32 | dims.len() as u32).to_be_bytes());
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// Gzip `bytes` (for `.gz` fixtures).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

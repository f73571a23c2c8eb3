//! Firefox's `mozlz4` container (`*.jsonlz4`): the magic `mozLz40\0`, the
//! decompressed size as a 4-byte little-endian number, then one lz4 block.

use zeroize::Zeroizing;

/// The eight bytes every mozlz4 file starts with.
pub(crate) const MAGIC: &[u8; 8] = b"mozLz40\0";
/// A session store larger than this is refused before decompressing: the
/// size in the header is the file's word, and the file is hostile.
pub(crate) const MAX_DECOMPRESSED_BYTES: usize = 256 * 1024 * 1024;

/// Why a mozlz4 file could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MozLz4Error {
    #[error("it does not start with the mozlz4 magic")]
    BadMagic,
    #[error("it is cut off before its size")]
    Truncated,
    #[error("it claims {0} bytes decompressed, over the limit")]
    TooLarge(usize),
    #[error("its lz4 block is corrupt")]
    Corrupt,
}

/// Decodes a mozlz4 file's bytes. The result may hold cookie values: it is
/// wiped when dropped.
pub(crate) fn decode(bytes: &[u8]) -> Result<Zeroizing<Vec<u8>>, MozLz4Error> {
    let rest = bytes.strip_prefix(MAGIC).ok_or(MozLz4Error::BadMagic)?;
    let (size, block) = rest
        .split_first_chunk::<4>()
        .ok_or(MozLz4Error::Truncated)?;
    let size = u32::from_le_bytes(*size) as usize;
    if size > MAX_DECOMPRESSED_BYTES {
        return Err(MozLz4Error::TooLarge(size));
    }
    let mut out = Zeroizing::new(vec![0u8; size]);
    let written =
        lz4_flex::block::decompress_into(block, &mut out).map_err(|_| MozLz4Error::Corrupt)?;
    out.truncate(written);
    Ok(out)
}

/// Encodes bytes as a mozlz4 file.
#[cfg(test)]
fn encode(plain: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&(plain.len() as u32).to_le_bytes());
    out.extend_from_slice(&lz4_flex::block::compress(plain));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mozlz4_file_decodes_to_its_json() {
        let json = br#"{"version":["sessionrestore",1],"cookies":[{"host":"a","name":"b"}]}"#;
        let file = encode(json);
        assert!(file.starts_with(b"mozLz40\0"));
        assert_eq!(&file[8..12], &(json.len() as u32).to_le_bytes());
        assert_eq!(decode(&file).unwrap().as_slice(), json);
    }

    #[test]
    fn broken_mozlz4_files_are_refused() {
        assert_eq!(decode(b"notmozlz4"), Err(MozLz4Error::BadMagic));
        assert_eq!(decode(b"mozLz40\0\x01"), Err(MozLz4Error::Truncated));
        let mut huge = MAGIC.to_vec();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(decode(&huge), Err(MozLz4Error::TooLarge(_))));
        let mut file = encode(b"{\"cookies\":[]}");
        file.truncate(file.len() - 3);
        assert_eq!(decode(&file), Err(MozLz4Error::Corrupt));
    }
}

//! Tar extension records (GNU long name / long link, PAX local and global headers), read by the
//! strict archive reader itself (the tar crate's raw mode) so that each is capped
//! (`max_header_record_bytes`) before a byte of it is read, and applied to the member that
//! follows: a GNU long name or PAX `path` replaces the member's name, a PAX `size` must equal
//! the header's.

use std::io::Read;

use super::archive::ArchiveError;

/// What the extension records read so far say about the next member.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    /// GNU long name, or PAX `path`.
    pub(crate) name: Option<Vec<u8>>,
    /// PAX `size`.
    pub(crate) size: Option<u64>,
}

fn kind_name(t: tar::EntryType) -> Option<&'static str> {
    if t.is_gnu_longname() {
        Some("GNU long name")
    } else if t.is_gnu_longlink() {
        Some("GNU long link name")
    } else if t.is_pax_local_extensions() {
        Some("PAX header")
    } else if t.is_pax_global_extensions() {
        Some("PAX global header")
    } else {
        None
    }
}

/// When `entry` is an extension record: checks its size against `cap` before reading it, reads
/// it and records what it says in `pending`, and returns `true`. Otherwise `false`.
pub(crate) fn absorb<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    cap: u64,
    pending: &mut Pending,
    corrupt: impl Fn(String) -> ArchiveError,
) -> Result<bool, ArchiveError> {
    let t = entry.header().entry_type();
    let Some(kind) = kind_name(t) else { return Ok(false) };
    let size = entry.header().entry_size().map_err(|e| corrupt(e.to_string()))?;
    if size > cap {
        return Err(ArchiveError::HeaderTooLarge { kind, size, cap });
    }
    let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    entry.take(size).read_to_end(&mut data).map_err(|e| corrupt(e.to_string()))?;
    if t.is_gnu_longname() {
        if pending.name.is_some() {
            return Err(corrupt("two long names for one member".into()));
        }
        while data.last() == Some(&0) {
            data.pop();
        }
        pending.name = Some(data);
    } else if t.is_pax_local_extensions() {
        for ext in tar::PaxExtensions::new(&data) {
            let ext = ext.map_err(|e| corrupt(format!("malformed PAX record: {e}")))?;
            match ext.key_bytes() {
                b"path" => pending.name = Some(ext.value_bytes().to_vec()),
                b"size" => {
                    let v = std::str::from_utf8(ext.value_bytes()).ok().and_then(|s| s.parse().ok());
                    pending.size = Some(v.ok_or_else(|| corrupt("PAX size is not a number".into()))?);
                }
                _ => {}
            }
        }
    }
    Ok(true)
}

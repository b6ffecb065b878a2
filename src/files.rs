//! Reading the files pgvitals is pointed at (config, root certificates, client keys, CRLs,
//! the password file) without being led astray: only regular files, and never more than a
//! stated number of bytes. `--config /dev/zero` or `sslrootcert=/dev/zero` would otherwise
//! grow without end, and a FIFO would block the process on `open`.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Why a file could not be read. `Display` is one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file does not exist (`ENOENT`, or a path component is not a directory).
    #[error("\"{path}\" does not exist")]
    NotFound { path: String },
    /// Open or read failed for another reason (permissions, I/O).
    #[error("cannot read \"{path}\": {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    /// Not a regular file: `what` it is (`a directory`, `a FIFO`, `a character device`, ...).
    #[error("\"{path}\" is not a regular file ({what})")]
    NotRegular { path: String, what: &'static str },
    /// Larger than the cap.
    #[error("\"{path}\" is larger than {cap} bytes")]
    TooLarge { path: String, cap: u64 },
}

impl ReadError {
    /// True for [`ReadError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::NotFound { .. })
    }
}

/// Reads the whole of `path` when it is a regular file of at most `cap` bytes (symbolic links
/// are followed, as libpq does for its files). The file is opened with `O_NONBLOCK`, so a FIFO
/// is refused instead of blocking, and checked with `fstat` on the open descriptor, so it
/// cannot be swapped between the check and the read. Errors: [`ReadError`].
pub fn read_regular(path: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
    let name = || path.display().to_string();
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
        .open(path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => {
                ReadError::NotFound { path: name() }
            }
            _ => ReadError::Io {
                path: name(),
                source: e,
            },
        })?;
    let meta = file.metadata().map_err(|e| ReadError::Io {
        path: name(),
        source: e,
    })?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular {
            path: name(),
            what: kind_of(&meta.file_type()),
        });
    }
    if meta.len() > cap {
        return Err(ReadError::TooLarge { path: name(), cap });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // The size can change after fstat: never read more than cap + 1 bytes.
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ReadError::Io {
            path: name(),
            source: e,
        })?;
    if bytes.len() as u64 > cap {
        return Err(ReadError::TooLarge { path: name(), cap });
    }
    Ok(bytes)
}

/// What a file that is not a regular file is, for messages.
fn kind_of(kind: &fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_within_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, b"hello").unwrap();
        assert_eq!(read_regular(&path, 5).unwrap(), b"hello");
        let err = read_regular(&path, 4).unwrap_err();
        assert!(matches!(err, ReadError::TooLarge { cap: 4, .. }), "{err}");
        let err = read_regular(&dir.path().join("absent"), 4).unwrap_err();
        assert!(err.is_not_found(), "{err}");
        let err = read_regular(dir.path(), 4).unwrap_err();
        assert!(matches!(err, ReadError::NotRegular { .. }), "{err}");
    }

    #[test]
    fn devices_and_fifos_are_refused_at_once() {
        let err = read_regular(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert!(matches!(err, ReadError::NotRegular { .. }), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        // Without O_NONBLOCK this open would block forever (no writer).
        let err = read_regular(&fifo, 1 << 20).unwrap_err();
        assert!(matches!(err, ReadError::NotRegular { .. }), "{err}");
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }
}

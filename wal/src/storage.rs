//! The one storage seam of walletd: every byte the WAL and the snapshots write or read goes
//! through [`Storage`], so tests can put a storage underneath that loses, tears or garbles what
//! was not yet synced (a SIGKILL keeps the page cache, so only this tests fsync discipline).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// A file opened for appending. Nothing written is durable until [`StorageFile::sync`] returns Ok.
pub trait StorageFile: Send {
    /// Appends the whole buffer at the end of the file.
    fn append(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Makes everything appended so far durable (fdatasync).
    fn sync(&mut self) -> io::Result<()>;
}

/// Directory and file operations used by the WAL and the snapshots.
pub trait Storage: Send + Sync + std::fmt::Debug + 'static {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Names of the regular files directly in `dir`, sorted. A missing directory is empty.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Opens `path` for appending, creating it (empty) if missing.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn StorageFile>>;
    /// Creates `path` empty (truncating it if present) and opens it for appending.
    fn create(&self, path: &Path) -> io::Result<Box<dyn StorageFile>>;
    /// The whole content of `path`.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Fills `buf` from `path` at `offset`; short files are an `UnexpectedEof` error.
    fn read_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    fn len(&self, path: &Path) -> io::Result<u64>;
    /// Cuts `path` to `len` bytes and makes the cut durable.
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;
    /// Atomically replaces `to` by `from`; durable once the directory is synced.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Makes creations, renames and removals in `dir` durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct FsStorage;

struct FsFile(File);

impl StorageFile for FsFile {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }
}

impl Storage for FsStorage {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry?;
            if entry.file_type()?.is_file()
                && let Some(name) = entry.file_name().to_str()
            {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let mut f = OpenOptions::new().create(true).append(true).open(path)?;
        f.seek(SeekFrom::End(0))?;
        Ok(Box::new(FsFile(f)))
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let f = OpenOptions::new().create(true).write(true).truncate(true).open(path)?;
        Ok(Box::new(FsFile(f)))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        File::open(path)?.read_to_end(&mut buf)?;
        Ok(buf)
    }

    fn read_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        File::open(path)?.read_exact_at(buf, offset)
    }

    fn len(&self, path: &Path) -> io::Result<u64> {
        Ok(fs::metadata(path)?.len())
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let f = OpenOptions::new().write(true).open(path)?;
        f.set_len(len)?;
        f.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}

//! The content hash of a config: SHA-256 over every file that was parsed, framed so that
//! nodes can tell "same config" from "different config" by comparing one string.
//!
//! Each file contributes its name relative to the config folder and its bytes, both
//! length-prefixed, so moving bytes from one file to the next (or renaming a file) changes
//! the hash, and where the folder sits on disk does not. The geo database is not part of
//! it: that file is reloaded on its own schedule.

use std::fmt::Write as _;
use std::path::Path;

use sha2::{Digest, Sha256};

/// Names the framing, so a future change of it cannot collide with this one.
const DOMAIN: &[u8] = b"meridian config v1\0";

/// Accumulates files in the order the loader reads them (main file, then region files by
/// name).
#[derive(Debug, Clone)]
pub(super) struct ContentHasher {
    sha: Sha256,
}

impl ContentHasher {
    pub(super) fn new() -> Self {
        let mut sha = Sha256::new();
        sha.update(DOMAIN);
        Self { sha }
    }

    /// Adds one file: `name` is relative to the folder of `meridian.toml`.
    pub(super) fn add(&mut self, name: &Path, bytes: &[u8]) {
        let name = name.as_os_str().as_encoded_bytes();
        for part in [name, bytes] {
            // usize -> u64 never truncates on the platforms Rust supports.
            self.sha.update((part.len() as u64).to_le_bytes());
            self.sha.update(part);
        }
    }

    /// Lower-case hex, 64 characters.
    pub(super) fn finish(self) -> String {
        let digest = self.sha.finalize();
        let mut hex = String::with_capacity(digest.len() * 2);
        for byte in digest {
            // Writing to a String cannot fail.
            let _ = write!(hex, "{byte:02x}");
        }
        hex
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::ContentHasher;

    fn hash(files: &[(&str, &str)]) -> String {
        let mut hasher = ContentHasher::new();
        for (name, text) in files {
            hasher.add(Path::new(name), text.as_bytes());
        }
        hasher.finish()
    }

    const FILES: [(&str, &str); 3] = [
        ("meridian.toml", "regions = \"regions\"\n"),
        ("regions/a.toml", "name = \"a\"\n"),
        ("regions/b.toml", "name = \"b\"\n"),
    ];

    #[test]
    fn the_same_files_give_the_same_hash() {
        let first = hash(&FILES);
        assert_eq!(first, hash(&FILES));
        assert_eq!(first.len(), 64);
        assert!(
            first
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }

    #[test]
    fn the_framing_is_pinned() {
        // Computed outside Rust (Python hashlib over the documented framing): changing the
        // domain or the length prefixes must be deliberate, since nodes compare hashes.
        assert_eq!(
            hash(&[]),
            "d21091a7e3f8d3735c6013620922d0aea79c0717a46cf217afb19c063e49cb19"
        );
        assert_eq!(
            hash(&[("meridian.toml", "x")]),
            "98bef7c48c1b3a45b8eb9f08a0f84434cdf20575c11ea32426830b0421ce0d44"
        );
    }

    #[test]
    fn any_byte_change_gives_another_hash() {
        let original = hash(&FILES);
        let mut seen = vec![original.clone()];
        for (file, (_, text)) in FILES.iter().enumerate() {
            for position in 0..text.len() {
                let mut bytes = text.as_bytes().to_vec();
                bytes[position] ^= 0x01;
                let mut hasher = ContentHasher::new();
                for (index, (name, other)) in FILES.iter().enumerate() {
                    let content = if index == file {
                        &bytes[..]
                    } else {
                        other.as_bytes()
                    };
                    hasher.add(Path::new(name), content);
                }
                let changed = hasher.finish();
                assert!(!seen.contains(&changed), "file {file} byte {position}");
                seen.push(changed);
            }
        }
    }

    #[test]
    fn moving_bytes_between_files_or_renaming_a_file_changes_the_hash() {
        let original = hash(&FILES);
        let moved = hash(&[
            ("meridian.toml", "regions = \"regions\"\nname = \"a\"\n"),
            ("regions/a.toml", ""),
            ("regions/b.toml", "name = \"b\"\n"),
        ]);
        assert_ne!(original, moved);
        let renamed = hash(&[FILES[0], ("regions/c.toml", FILES[1].1), FILES[2]]);
        assert_ne!(original, renamed);
        let name_into_content = hash(&[FILES[0], ("regions/a.tom", "lname = \"a\"\n"), FILES[2]]);
        assert_ne!(original, name_into_content);
        let dropped = hash(&FILES[..2]);
        assert_ne!(original, dropped);
    }
}

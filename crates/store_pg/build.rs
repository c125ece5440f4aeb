//! Rebuilds the crate when a migration changes (so `embed_migrations!` picks it up) and
//! exports a fingerprint of the migrations, which names the test template database.

use std::fs;
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
    let root = Path::new("../../migrations");
    let mut all = Vec::new();
    files(root, &mut all);
    all.sort();
    // FNV-1a over every migration's relative path and contents: stable across builds.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for path in &all {
        println!("cargo:rerun-if-changed={}", path.display());
        let rel = path
            .strip_prefix(root)
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned();
        let body = fs::read(path).unwrap_or_default();
        for byte in rel.bytes().chain([0]).chain(body).chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    println!("cargo:rustc-env=TALLY_MIGRATIONS_HASH={hash:016x}");
}

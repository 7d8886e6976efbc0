//! Lists every file of `web/` (the planners' web app) for `src/api/web.rs` to compile
//! into the binary, so a file added to the app is served without touching the code.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=web");
    // Read at run time, not compiled in with `env!`: checkouts in different folders that
    // share a target folder share this script's binary (cargo's hash leaves the path out).
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it");
    let root = Path::new(&manifest).join("web");
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();
    let mut list = String::from("&[\n");
    for file in &files {
        let relative = file.strip_prefix(&root).unwrap();
        let name = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        // The path from the crate's own folder, resolved when the library is compiled,
        // so the list never names another checkout's files.
        list.push_str(&format!(
            "    Asset {{ path: {name:?}, bytes: include_bytes!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/web/{name}\")) }},\n"
        ));
    }
    list.push_str("]\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("web_assets.rs");
    std::fs::write(out, list).unwrap();
}

fn collect(folder: &Path, files: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(folder)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", folder.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}

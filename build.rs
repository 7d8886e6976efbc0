//! Lists every file of `web/` (the planners' web app) for `src/api/web.rs` to compile
//! into the binary, so a file added to the app is served without touching the code.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=web");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
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
        list.push_str(&format!(
            "    Asset {{ path: {name:?}, bytes: include_bytes!({:?}) }},\n",
            file.display().to_string()
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

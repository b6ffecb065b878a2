//! Embeds every file of `queries/` into the binary: writes `$OUT_DIR/queries_table.rs`, a
//! table of (file name, SQL) that `src/queries.rs` includes. The table is made from the
//! directory, so the files and the table cannot disagree.

use std::fs;
use std::path::Path;

fn main() {
    // The manifest dir as cargo passes it to this run (not `env!`, fixed when the script was
    // compiled: a target dir copied from another checkout would embed that checkout's SQL).
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&manifest).join("queries");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".sql"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut out = String::from(
        "/// (file name, SQL) of every file in `queries/`.\npub static FILES: &[(&str, &str)] = &[\n",
    );
    for name in &names {
        let path = dir.join(name);
        println!("cargo:rerun-if-changed={}", path.display());
        out.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            path.display().to_string()
        ));
    }
    out.push_str("];\n");
    // One enum per family: a query name is then a compile-time name (a typo does not build),
    // and a server-keyed name cannot be asked for by extension version or the other way.
    for (family, enum_name, doc) in [
        (
            "pg",
            "ServerQuery",
            "chosen by the server's major (`<name>.pgN.sql`)",
        ),
        (
            "pgss",
            "PgssQuery",
            "chosen by the installed pg_stat_statements version (`<name>.pgssA_B.sql`)",
        ),
    ] {
        let mut base: Vec<String> = names
            .iter()
            .filter_map(|n| {
                let stem = n.strip_suffix(".sql")?;
                let (name, key) = stem.rsplit_once('.')?;
                let rest = key.strip_prefix(family)?;
                rest.chars().next().filter(char::is_ascii_digit)?;
                Some(name.to_string())
            })
            .collect();
        base.sort();
        base.dedup();
        out.push_str(&format!(
            "/// The query names {doc}.\n#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]\npub enum {enum_name} {{\n"
        ));
        for name in &base {
            out.push_str(&format!(
                "    /// `queries/{name}.{family}*.sql`\n    {},\n",
                camel(name)
            ));
        }
        out.push_str(&format!(
            "}}\n\nimpl {enum_name} {{\n    /// Every name, in file order.\n    pub const ALL: &[{enum_name}] = &[{}];\n\n    /// The file name's stem, e.g. `activity_settings`.\n    pub fn name(self) -> &'static str {{\n        match self {{\n",
            base.iter().map(|n| format!("{enum_name}::{}", camel(n))).collect::<Vec<_>>().join(", ")
        ));
        for name in &base {
            out.push_str(&format!(
                "            {enum_name}::{} => {name:?},\n",
                camel(name)
            ));
        }
        out.push_str("        }\n    }\n}\n\n");
    }
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    fs::write(Path::new(&out_dir).join("queries_table.rs"), out).expect("write queries_table.rs");
}

/// `activity_settings` -> `ActivitySettings`.
fn camel(name: &str) -> String {
    name.split('_')
        .map(|part| {
            let mut c = part.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

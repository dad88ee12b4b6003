//! Writes every contract's JSON Schema into `contracts/schemas/`.
//!
//! Refuses to overwrite a committed schema with an incompatible one: a breaking change is a
//! new version (`v2`), never an edit of a published one. `--force` exists for a version that
//! was never released; say so in the commit.

use std::path::PathBuf;

use hub_contracts::{all_contracts, compat::breaking_changes, registry::schema_file_name};

fn main() -> std::process::ExitCode {
    let force = std::env::args().any(|a| a == "--force");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas");
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {e}", dir.display());
        return std::process::ExitCode::FAILURE;
    }
    let mut failed = false;
    for c in all_contracts() {
        let path = dir.join(schema_file_name(c.type_name));
        let new = (c.schema)().to_value();
        if let Ok(text) = std::fs::read_to_string(&path) {
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(old) => {
                    let breaking = breaking_changes(&old, &new);
                    if !breaking.is_empty() && !force {
                        eprintln!("{}: breaking change to a published contract:", c.type_name);
                        for b in breaking {
                            eprintln!("  {b}");
                        }
                        failed = true;
                        continue;
                    }
                }
                Err(e) => eprintln!(
                    "{}: committed schema unreadable ({e}); rewriting",
                    path.display()
                ),
            }
        }
        let text = match serde_json::to_string_pretty(&new) {
            Ok(t) => t + "\n",
            Err(e) => {
                eprintln!("{}: {e}", c.type_name);
                failed = true;
                continue;
            }
        };
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("cannot write {}: {e}", path.display());
            failed = true;
        } else {
            println!("wrote {}", path.display());
        }
    }
    if failed {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}

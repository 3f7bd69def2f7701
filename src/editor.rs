//! The dashboard's line and zone editor: a camera's `[[camera.line]]` and `[[camera.zone]]`
//! tables rewritten in the config file in place (`toml_edit`: every comment, every other key and
//! the order kept; lines and zones that keep their name keep their comments too), checked as a
//! whole config before anything is written, written atomically, then reloaded as SIGHUP would.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Deserialize;
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};

/// A camera's lines and zones as the editor sends them (coordinates are fractions of the frame).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Geometry {
    #[serde(default)]
    pub lines: Vec<LineSpec>,
    #[serde(default)]
    pub zones: Vec<ZoneSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineSpec {
    pub name: String,
    pub from: [f64; 2],
    pub to: [f64; 2],
    pub anchor: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneSpec {
    pub name: String,
    pub polygon: Vec<[f64; 2]>,
    pub anchor: Option<String>,
}

/// Why an edit was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// No `[[camera]]` with that name.
    #[error("no camera {0:?} in the config")]
    NoCamera(String),
    /// The config the edit would give is not valid: every problem, one per line.
    #[error("{0}")]
    Refused(String),
    /// The file could not be read or written.
    #[error("{0}")]
    Io(String),
}

/// Edits the config file of a running service.
#[derive(Debug)]
pub struct ConfigEditor {
    path: PathBuf,
    /// Set to have the service reload the config (the SIGHUP flag).
    reload: Arc<AtomicBool>,
    lock: std::sync::Mutex<()>,
}

impl ConfigEditor {
    pub fn new(path: PathBuf, reload: Arc<AtomicBool>) -> Self {
        Self { path, reload, lock: std::sync::Mutex::new(()) }
    }

    /// Replaces `camera`'s lines and zones with `geometry`, checks the whole config, writes it
    /// and asks for a reload. Nothing is written when the result would not be valid.
    pub fn set_geometry(&self, camera: &str, geometry: &Geometry) -> Result<(), EditError> {
        let _one_at_a_time = self.lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| EditError::Io(format!("cannot read {}: {e}", self.path.display())))?;
        let edited = edit(&text, camera, geometry)?;
        let base = self.path.parent().unwrap_or(Path::new("."));
        let label = self.path.display().to_string();
        if let Err(diagnostics) = crate::config::Config::parse(&edited, &label, base) {
            let reasons: Vec<String> = diagnostics.items.iter().map(|d| d.message.clone()).collect();
            return Err(EditError::Refused(reasons.join("\n")));
        }
        write_atomically(&self.path, &edited)
            .map_err(|e| EditError::Io(format!("cannot write {}: {e}", self.path.display())))?;
        self.reload.store(true, Ordering::SeqCst);
        Ok(())
    }
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut temp = crate::sink::TempOutput::create(path)?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(temp.path(), meta.permissions());
    }
    temp.file().write_all(text.as_bytes())?;
    temp.commit().map(|_| ())
}

/// `text` with `camera`'s lines and zones replaced by `geometry`.
pub fn edit(text: &str, camera: &str, geometry: &Geometry) -> Result<String, EditError> {
    let mut doc: DocumentMut =
        text.parse().map_err(|e| EditError::Refused(format!("the config file is not valid TOML: {e}")))?;
    let table = doc
        .get_mut("camera")
        .and_then(Item::as_array_of_tables_mut)
        .and_then(|cameras| {
            cameras.iter_mut().find(|t| t.get("name").and_then(|n| n.as_str()) == Some(camera))
        })
        .ok_or_else(|| EditError::NoCamera(camera.to_owned()))?;
    let round = |v: f64| (v * 10_000.0).round() / 10_000.0;
    let point = |p: [f64; 2]| {
        let mut a = toml_edit::Array::new();
        a.push(round(p[0]));
        a.push(round(p[1]));
        a
    };
    replace_tables(table, "line", geometry.lines.iter().map(|l| l.name.as_str()), |t, i| {
        let line = &geometry.lines[i];
        t["from"] = value(point(line.from));
        t["to"] = value(point(line.to));
        set_anchor(t, line.anchor.as_deref());
    });
    replace_tables(table, "zone", geometry.zones.iter().map(|z| z.name.as_str()), |t, i| {
        let zone = &geometry.zones[i];
        let mut polygon = toml_edit::Array::new();
        for &p in &zone.polygon {
            polygon.push(point(p));
        }
        t["polygon"] = value(polygon);
        set_anchor(t, zone.anchor.as_deref());
    });
    Ok(doc.to_string())
}

fn set_anchor(t: &mut Table, anchor: Option<&str>) {
    match anchor {
        Some(a) => t["anchor"] = value(a),
        None => {
            t.remove("anchor");
        }
    }
}

/// Makes `table[key]` the array of tables named `names`, in that order: a table whose name was
/// there already is kept (with its comments) and updated by `fill`, a new one is made.
fn replace_tables<'n>(
    table: &mut Table,
    key: &str,
    names: impl Iterator<Item = &'n str>,
    mut fill: impl FnMut(&mut Table, usize),
) {
    let mut old: Vec<Table> = match table.remove(key) {
        Some(Item::ArrayOfTables(tables)) => tables.into_iter().collect(),
        _ => Vec::new(),
    };
    let mut tables = ArrayOfTables::new();
    for (i, name) in names.enumerate() {
        let at = old.iter().position(|t| t.get("name").and_then(|n| n.as_str()) == Some(name));
        let mut t = match at {
            Some(at) => old.remove(at),
            None => {
                let mut t = Table::new();
                t["name"] = value(name);
                t
            }
        };
        fill(&mut t, i);
        tables.push(t);
    }
    if !tables.is_empty() {
        table.insert(key, Item::ArrayOfTables(tables));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# my shop\n[counts]\nbucket = \"1m\" # short\n\n\
        [[camera]]\nname = \"door\"\nsource = \"a.mp4\"\n\n# the door line\n[[camera.line]]\nname = \"entry\" # keep\n\
        from = [0.5, 0.0]\nto = [0.5, 1.0]\n\n[[camera.line]]\nname = \"old\"\nfrom = [0.1, 0.0]\nto = [0.1, 1.0]\n\n\
        [camera.output]\npreset = \"fast\"\n\n\
        [[camera]]\nname = \"yard\"\nsource = \"b.mp4\"\n";

    fn line(name: &str, x: f64) -> LineSpec {
        LineSpec { name: name.into(), from: [x, 0.0], to: [x, 1.0], anchor: None }
    }

    #[test]
    fn lines_and_zones_are_replaced_in_place_with_every_comment_kept() {
        let geometry = Geometry {
            lines: vec![line("entry", 0.25), line("new", 0.75)],
            zones: vec![ZoneSpec {
                name: "till".into(),
                polygon: vec![[0.0, 0.0], [0.5, 0.0], [0.333333, 0.5]],
                anchor: Some("center".into()),
            }],
        };
        let edited = edit(TEXT, "door", &geometry).unwrap();
        for kept in [
            "# my shop",
            "bucket = \"1m\" # short",
            "# the door line",
            "name = \"entry\" # keep",
            "preset = \"fast\"",
        ] {
            assert!(edited.contains(kept), "{kept:?} kept in\n{edited}");
        }
        assert!(edited.contains("from = [0.25, 0.0]"), "{edited}");
        assert!(!edited.contains("\"old\""), "a line left out is gone: {edited}");
        assert!(edited.contains("polygon = [[0.0, 0.0], [0.5, 0.0], [0.3333, 0.5]]"), "{edited}");
        let config = crate::config::Config::parse(&edited, "t.toml", Path::new("/srv")).unwrap();
        let door = &config.cameras[0];
        assert_eq!(door.lines.iter().map(|l| l.name()).collect::<Vec<_>>(), ["entry", "new"]);
        assert_eq!(door.zones[0].name(), "till");
        assert!(config.cameras[1].lines.is_empty(), "the next camera gets none of them");
    }

    #[test]
    fn an_edit_that_would_break_the_config_is_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("obscura.toml");
        std::fs::write(&path, TEXT).unwrap();
        let reload = Arc::new(AtomicBool::new(false));
        let editor = ConfigEditor::new(path.clone(), reload.clone());
        let bad = Geometry { lines: vec![line("entry", 1.5), line("bad name!", 0.5)], zones: vec![] };
        match editor.set_geometry("door", &bad) {
            Err(EditError::Refused(reasons)) => {
                assert_eq!(reasons.lines().count(), 3, "every problem: {reasons}");
                assert!(
                    reasons.contains("between 0 and 1") && reasons.contains("\"bad name!\""),
                    "{reasons}"
                );
            }
            other => panic!("refused, got {other:?}"),
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), TEXT);
        assert!(!reload.load(Ordering::SeqCst));
        assert!(matches!(editor.set_geometry("gate", &bad), Err(EditError::NoCamera(_))));
        editor.set_geometry("yard", &Geometry { lines: vec![line("fence", 0.5)], zones: vec![] }).unwrap();
        assert!(reload.load(Ordering::SeqCst), "a reload is asked for");
        assert!(std::fs::read_to_string(&path).unwrap().contains("name = \"fence\""));
        assert_eq!(crate::sink::sweep_dead(dir.path()), 0);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
    }
}

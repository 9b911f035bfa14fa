//! The fonts the PDF is laid out with: those bundled with `typst-assets` (Latin, Greek,
//! Cyrillic, mathematics), then the machine's own, so that titles in Chinese, Japanese, Korean or
//! with emoji find their glyphs (Debian's `fonts-noto-cjk` and `fonts-noto-color-emoji`).
//!
//! The machine's fonts are scanned once per process for what they cover; a file is read again
//! and kept only when a report first needs one of its faces, so that the large CJK collections
//! cost memory only once they are used.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use typst::foundations::Bytes;
use typst::text::{Font, FontBook, FontInfo};
use typst::utils::LazyHash;

/// Where Debian (and most Linux systems) keep fonts; searched recursively.
const SYSTEM_FONT_DIRS: [&str; 2] = ["/usr/share/fonts", "/usr/local/share/fonts"];

/// Characters whose glyphs tell whether a script is covered: a Han ideograph, Hiragana, Hangul.
const CJK_PROBES: [char; 3] = ['漢', 'あ', '한'];
/// A pictographic emoji.
const EMOJI_PROBE: char = '🔒';

enum Slot {
    Bundled(Font),
    /// A face of a file on disk, read on first use (`None` once it failed to load).
    File {
        path: PathBuf,
        index: u32,
        font: OnceLock<Option<Font>>,
    },
}

pub(crate) struct Fonts {
    pub book: LazyHash<FontBook>,
    slots: Vec<Slot>,
    coverage: FontCoverage,
}

/// Which scripts beyond the bundled fonts' the PDF can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FontCoverage {
    /// Chinese, Japanese and Korean (all three probes have a font).
    pub cjk: bool,
    /// Colour emoji.
    pub emoji: bool,
}

/// What the PDF renderer can show, so that the service can say at start-up when a script would
/// print as empty boxes. Scans the machine's fonts on first call.
pub fn font_coverage() -> FontCoverage {
    fonts().coverage
}

pub(crate) fn fonts() -> &'static Fonts {
    static FONTS: OnceLock<Fonts> = OnceLock::new();
    FONTS.get_or_init(|| Fonts::load(&SYSTEM_FONT_DIRS.map(Path::new)))
}

impl Fonts {
    fn load(dirs: &[&Path]) -> Self {
        let mut book = FontBook::new();
        let mut slots = Vec::new();
        for font in typst_assets::fonts().flat_map(|data| Font::iter(Bytes::new(data))) {
            book.push(font.info().clone());
            slots.push(Slot::Bundled(font));
        }
        for path in font_files(dirs) {
            let Ok(data) = std::fs::read(&path) else {
                continue;
            };
            for (index, info) in FontInfo::iter(&data).enumerate() {
                book.push(info);
                slots.push(Slot::File {
                    path: path.clone(),
                    index: index as u32,
                    font: OnceLock::new(),
                });
            }
        }
        let covers = |c: char| {
            (0..slots.len()).any(|i| book.info(i).is_some_and(|f| f.coverage.contains(c as u32)))
        };
        let coverage = FontCoverage {
            cjk: CJK_PROBES.into_iter().all(covers),
            emoji: covers(EMOJI_PROBE),
        };
        Self {
            book: LazyHash::new(book),
            slots,
            coverage,
        }
    }

    pub fn font(&self, index: usize) -> Option<Font> {
        match self.slots.get(index)? {
            Slot::Bundled(font) => Some(font.clone()),
            Slot::File { path, index, font } => font
                .get_or_init(|| {
                    let data = std::fs::read(path).ok()?;
                    Font::new(Bytes::new(data), *index)
                })
                .clone(),
        }
    }
}

/// Every font file under `dirs`, each once (links resolved), in a stable order.
fn font_files(dirs: &[&Path]) -> BTreeSet<PathBuf> {
    let mut files = BTreeSet::new();
    let mut pending: Vec<PathBuf> = dirs.iter().filter_map(|d| d.canonicalize().ok()).collect();
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(path) = entry.path().canonicalize() else {
                continue;
            };
            if path.is_dir() {
                // Only directories below this one: a link back up would loop.
                if path.starts_with(&dir) && path != dir {
                    pending.push(path);
                }
            } else if is_font(&path) {
                files.insert(path);
            }
        }
    }
    files
}

fn is_font(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        matches!(
            e.to_ascii_lowercase().as_str(),
            "ttf" | "otf" | "ttc" | "otc"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_fonts_are_always_there_and_cover_no_cjk() {
        let empty = tempfile::tempdir().unwrap();
        let fonts = Fonts::load(&[empty.path()]);
        assert!(fonts.slots.len() >= 10);
        assert!(fonts.book.contains_family("libertinus serif"));
        assert_eq!(
            fonts.coverage,
            FontCoverage {
                cjk: false,
                emoji: false
            }
        );
        assert!(fonts.font(0).is_some());
        assert!(fonts.font(fonts.slots.len()).is_none());
    }

    #[test]
    fn font_files_are_found_once_and_others_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("truetype/x");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join("a.ttf"), b"not really").unwrap();
        std::fs::write(sub.join("b.OTF"), b"").unwrap();
        std::fs::write(sub.join("readme.txt"), b"").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(sub.join("a.ttf"), dir.path().join("link.ttf")).unwrap();
        let found = font_files(&[dir.path()]);
        let names: Vec<_> = found
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["a.ttf", "b.OTF"]);
        // Files that do not parse add no face.
        let fonts = Fonts::load(&[dir.path()]);
        assert_eq!(fonts.slots.len(), Fonts::load(&[]).slots.len());
    }
}

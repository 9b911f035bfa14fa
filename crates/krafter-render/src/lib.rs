#![doc = include_str!("../README.md")]

mod csv_format;
mod executive;
mod fonts;
mod html;
mod json;
mod pdf;
mod readable;
mod renderer;
mod store;
mod view;

pub use csv_format::defuse as defuse_csv_cell;
pub use fonts::{font_coverage, FontCoverage};
pub use renderer::Renderer;
pub use store::{
    artefact_store, ArtefactLocation, FsArtefactStore, StoreSetupError, ARTEFACTS_URL_VAR,
};
pub use view::LISTED_FINDINGS;

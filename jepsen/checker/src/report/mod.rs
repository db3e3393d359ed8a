//! Human-readable renderings of a check: a text summary and an SVG
//! timeline.

mod describe;
mod lateness;
mod summary;
mod svg;
mod tally;

pub use describe::describe_event;
pub use summary::summary_text;
pub use svg::timeline_svg;

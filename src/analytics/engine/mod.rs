//! The embedded analytics engine: events in columns, one `Day` per site and UTC day, and the
//! evaluation of a `Query` over days.
//!
//! Invariants:
//! - Nothing here knows where days are kept: the store hands days in and takes segment bytes
//!   out (`format`), so a database backend answers the same `Query` its own way.
//! - Every answer is computed from the days it is given: no count is kept anywhere else.
//! - A day holds whole visits: the event writer ends every visit at midnight UTC.

pub mod day;
pub mod eval;
pub mod format;
pub mod funnel_eval;
mod goal_marks;

pub use day::{Day, Row};
pub use eval::Evaluation;
pub use funnel_eval::{FunnelCounts, FunnelEvaluation, FunnelQuery};

#[cfg(test)]
mod funnel_model_test;
#[cfg(test)]
mod model_test;

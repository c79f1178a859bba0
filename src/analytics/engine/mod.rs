//! The embedded analytics engine: events in columns, one `Day` per site and UTC day, and the
//! evaluation of a `Query` over days.
//!
//! Invariants:
//! - Nothing here knows where days are kept: the store hands days in and takes segment bytes
//!   out (`format`), so a database backend answers the same `Query` its own way.
//! - Every answer is computed from the days it is given: no count is kept anywhere else. A
//!   `DayAnswer` is what one day adds to an evaluation; a store may keep it only as long as the
//!   day it was computed from cannot change.
//! - A day holds whole visits: the event writer ends every visit at midnight UTC.

pub mod day;
mod day_answer;
pub mod eval;
pub mod format;
pub mod funnel_eval;
mod goal_marks;

pub use day::{Day, Row};
pub use day_answer::DayAnswer;
pub use eval::{Evaluation, Shape};
pub use funnel_eval::{FunnelCounts, FunnelEvaluation, FunnelQuery};

#[cfg(test)]
mod funnel_model_test;
#[cfg(test)]
mod model_test;

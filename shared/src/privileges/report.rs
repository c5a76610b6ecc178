//! The CloudTracker-style report of one principal over a window.
//!
//! OWNER: helper "answers".

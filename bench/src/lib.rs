//! fanin's benchmark report. `scripts/bench` runs every measurement; each
//! writes one section (`<out>/<name>.json`, see [`section`]), and
//! `fanin-bench report` assembles the sections into one Markdown report with
//! the machine, the commit and the command ([`report`]).

pub mod coldstart;
pub mod report;
pub mod section;
pub mod sizes;
pub mod stack;

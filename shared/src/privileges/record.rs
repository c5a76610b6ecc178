//! The record put on the central bus. OWNER: helper "answers".

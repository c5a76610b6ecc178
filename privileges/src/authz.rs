//! Authorization details read through the read role. OWNER: helper "grants".

//! VPC Flow Logs: the record fields of versions 2 to 5 (and later ones,
//! skipped), the text and Parquet deliveries' parser, and the hourly
//! aggregation the unused-exposure evaluation reads. Pure: no I/O but
//! `std::io::BufRead`.

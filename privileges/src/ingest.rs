//! Reading CloudTrail objects from S3 notifications. OWNER: helper "trail".

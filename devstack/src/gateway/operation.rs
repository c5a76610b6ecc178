//! Naming the operation of a request, for the call counts.

use axum::http::{HeaderMap, Method};

use super::awsreq::param;

/// The operation of an AWS request: the `X-Amz-Target` suffix after the last
/// '.', else the `Action` query/form parameter, else (S3) a name from method
/// and path, else `<METHOD> <first path segments>`.
pub(crate) fn aws_operation(
    service: &str,
    target: Option<&str>,
    params: &[(String, String)],
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> String {
    if let Some(target) = target.filter(|t| !t.is_empty()) {
        return target.rsplit('.').next().unwrap_or(target).to_string();
    }
    if let Some(action) = param(params, "Action").filter(|a| !a.is_empty()) {
        return action.to_string();
    }
    if service == "s3" {
        return s3_operation(method, path, query, headers);
    }
    let prefix: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).take(2).collect();
    format!("{method} /{}", prefix.join("/"))
}

/// The S3 operation of a REST request (path-style or virtual-hosted-style).
pub(crate) fn s3_operation(
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> String {
    let keys: Vec<String> = query
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, _)| k.into_owned())
                .collect()
        })
        .unwrap_or_default();
    let has = |k: &str| keys.iter().any(|x| x == k);
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    let virtual_hosted = host.contains('.')
        && host.parse::<std::net::IpAddr>().is_err()
        && !host.starts_with("s3.")
        && !host.starts_with("s3-");
    let segments: Vec<&str> = path.trim_start_matches('/').splitn(2, '/').collect();
    let (bucket, key) = if virtual_hosted {
        (
            Some(host),
            Some(path.trim_start_matches('/')).filter(|k| !k.is_empty()),
        )
    } else {
        (
            segments.first().copied().filter(|b| !b.is_empty()),
            segments.get(1).copied().filter(|k| !k.is_empty()),
        )
    };
    let copy = headers.contains_key("x-amz-copy-source");
    match (bucket, key) {
        (None, _) => match *method {
            Method::GET => "ListBuckets",
            _ => "Unknown",
        }
        .to_string(),
        (Some(_), None) => bucket_operation(method, &has),
        (Some(_), Some(_)) => match *method {
            Method::PUT if has("partNumber") && copy => "UploadPartCopy",
            Method::PUT if has("partNumber") => "UploadPart",
            Method::PUT if has("tagging") => "PutObjectTagging",
            Method::PUT if has("acl") => "PutObjectAcl",
            Method::PUT if copy => "CopyObject",
            Method::PUT => "PutObject",
            Method::GET if has("tagging") => "GetObjectTagging",
            Method::GET if has("acl") => "GetObjectAcl",
            Method::GET if has("attributes") => "GetObjectAttributes",
            Method::GET if has("uploadId") => "ListParts",
            Method::GET => "GetObject",
            Method::HEAD => "HeadObject",
            Method::DELETE if has("uploadId") => "AbortMultipartUpload",
            Method::DELETE if has("tagging") => "DeleteObjectTagging",
            Method::DELETE => "DeleteObject",
            Method::POST if has("uploads") => "CreateMultipartUpload",
            Method::POST if has("uploadId") => "CompleteMultipartUpload",
            Method::POST if has("restore") => "RestoreObject",
            Method::POST if has("select") => "SelectObjectContent",
            _ => "Unknown",
        }
        .to_string(),
    }
}

fn bucket_operation(method: &Method, has: &dyn Fn(&str) -> bool) -> String {
    const SUBRESOURCES: &[(&str, &str)] = &[
        ("policy", "BucketPolicy"),
        ("notification", "BucketNotificationConfiguration"),
        ("versioning", "BucketVersioning"),
        ("tagging", "BucketTagging"),
        ("lifecycle", "BucketLifecycleConfiguration"),
        ("encryption", "BucketEncryption"),
        ("cors", "BucketCors"),
        ("acl", "BucketAcl"),
        ("website", "BucketWebsite"),
        ("replication", "BucketReplication"),
        ("logging", "BucketLogging"),
        ("ownershipControls", "BucketOwnershipControls"),
        ("publicAccessBlock", "PublicAccessBlock"),
        ("object-lock", "ObjectLockConfiguration"),
        ("accelerate", "BucketAccelerateConfiguration"),
        ("inventory", "BucketInventoryConfiguration"),
        ("metrics", "BucketMetricsConfiguration"),
    ];
    if let Some((_, name)) = SUBRESOURCES.iter().find(|(q, _)| has(q)) {
        let verb = match *method {
            Method::PUT => "Put",
            Method::DELETE => "Delete",
            _ => "Get",
        };
        return format!("{verb}{name}");
    }
    match *method {
        Method::PUT => "CreateBucket",
        Method::DELETE => "DeleteBucket",
        Method::HEAD => "HeadBucket",
        Method::POST if has("delete") => "DeleteObjects",
        Method::GET if has("location") => "GetBucketLocation",
        Method::GET if has("uploads") => "ListMultipartUploads",
        Method::GET if has("versions") => "ListObjectVersions",
        Method::GET if has("list-type") => "ListObjectsV2",
        Method::GET => "ListObjects",
        _ => "Unknown",
    }
    .to_string()
}

/// The operation of an OpenSearch request: its first path segment that
/// starts with `_` (`_bulk`, `_search`, `_index_template`...), else the method.
pub(crate) fn opensearch_operation(method: &Method, path: &str) -> String {
    path.split('/')
        .find(|s| s.starts_with('_'))
        .map(str::to_string)
        .unwrap_or_else(|| method.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(method: Method, path: &str, query: Option<&str>) -> String {
        let mut h = HeaderMap::new();
        h.insert("host", "127.0.0.1:4566".parse().unwrap());
        s3_operation(&method, path, query, &h)
    }

    #[test]
    fn s3_names() {
        assert_eq!(s3(Method::PUT, "/b", None), "CreateBucket");
        assert_eq!(
            s3(Method::PUT, "/b/k/x.json", Some("x-id=PutObject")),
            "PutObject"
        );
        assert_eq!(s3(Method::GET, "/b/k", Some("x-id=GetObject")), "GetObject");
        assert_eq!(s3(Method::HEAD, "/b/k", None), "HeadObject");
        assert_eq!(
            s3(Method::DELETE, "/b/k", Some("x-id=DeleteObject")),
            "DeleteObject"
        );
        assert_eq!(
            s3(Method::GET, "/b", Some("list-type=2&prefix=a")),
            "ListObjectsV2"
        );
        assert_eq!(s3(Method::PUT, "/b", Some("policy")), "PutBucketPolicy");
        assert_eq!(s3(Method::POST, "/b", Some("delete")), "DeleteObjects");
        assert_eq!(s3(Method::GET, "/", None), "ListBuckets");
        let mut h = HeaderMap::new();
        h.insert("host", "mybucket.s3.localhost:4566".parse().unwrap());
        assert_eq!(s3_operation(&Method::GET, "/key", None, &h), "GetObject");
    }

    #[test]
    fn other_names() {
        let h = HeaderMap::new();
        let p = vec![("Action".to_string(), "AssumeRole".to_string())];
        assert_eq!(
            aws_operation("sts", None, &p, &Method::POST, "/", None, &h),
            "AssumeRole"
        );
        assert_eq!(
            aws_operation(
                "sqs",
                Some("AmazonSQS.SendMessage"),
                &[],
                &Method::POST,
                "/",
                None,
                &h
            ),
            "SendMessage"
        );
        assert_eq!(
            aws_operation(
                "inspector2",
                None,
                &[],
                &Method::POST,
                "/findings/list",
                None,
                &h
            ),
            "POST /findings/list"
        );
        assert_eq!(opensearch_operation(&Method::POST, "/_bulk"), "_bulk");
        assert_eq!(
            opensearch_operation(&Method::POST, "/idx/_search"),
            "_search"
        );
        assert_eq!(opensearch_operation(&Method::PUT, "/idx"), "PUT");
    }
}

//! Small pieces of the AWS wire formats the gateway and the Classic service
//! need: the SigV4 credential scope, the SDK's `app/<name>` user-agent token,
//! query/form parameters, bits of XML, and raw query-protocol calls to moto.

use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};

/// The SigV4 credential scope of a request:
/// `Credential=<akid>/<date>/<region>/<service>/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
}

impl CredentialScope {
    /// Parses `AKID/DATE/REGION/SERVICE/aws4_request`.
    pub fn parse(credential: &str) -> Option<Self> {
        let mut parts = credential.trim().split('/');
        let access_key_id = parts.next()?.to_string();
        let date = parts.next()?.to_string();
        let region = parts.next()?.to_string();
        let service = parts.next()?.to_string();
        if access_key_id.is_empty() || region.is_empty() || service.is_empty() {
            return None;
        }
        Some(CredentialScope {
            access_key_id,
            date,
            region,
            service,
        })
    }

    /// From the `Authorization` header, else from a presigned URL's
    /// `X-Amz-Credential` query parameter.
    pub fn from_request(headers: &HeaderMap, query: Option<&str>) -> Option<Self> {
        if let Some(auth) = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            let start = auth.find("Credential=")? + "Credential=".len();
            let rest = &auth[start..];
            let end = rest
                .find(|c: char| c == ',' || c.is_whitespace())
                .unwrap_or(rest.len());
            return Self::parse(&rest[..end]);
        }
        let query = query?;
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k.eq_ignore_ascii_case("X-Amz-Credential"))
            .and_then(|(_, v)| Self::parse(&v))
    }
}

/// The `app/<name>` token of the `x-amz-user-agent` or `user-agent` header
/// (the Rust SDK adds it when the config has an app name), else "unknown".
pub fn caller_app(headers: &HeaderMap) -> String {
    for name in ["x-amz-user-agent", "user-agent"] {
        let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) else {
            continue;
        };
        if let Some(app) = value
            .split_whitespace()
            .find_map(|token| token.strip_prefix("app/"))
            .filter(|app| !app.is_empty())
        {
            return app.to_string();
        }
    }
    "unknown".to_string()
}

/// The query string's and (for a form-encoded body) the body's parameters.
pub fn query_params(
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = query
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    let is_form = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        params.extend(form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())));
    }
    params
}

/// The first value of parameter `name`.
pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The text of the first `<tag>...</tag>` element, XML entities resolved.
pub fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&close)?;
    Some(xml_unescape(&xml[start..start + len]))
}

/// Resolves the five predefined XML entities and numeric character references.
pub fn xml_unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos..];
        let Some(end) = rest.find(';').filter(|&e| e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Escapes text for an XML element.
pub fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Decodes `%XX` escapes (a `+` stays a `+`, as in IAM's policy documents).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Glob match with `*` and `?`, as Inspector's name patterns and IAM's
/// StringLike: the core's matcher, the one the guard's policy uses.
pub use fanin::guard::policy::glob_matches as glob_match;

/// An HTTP client for calls to the local servers: no proxy, no redirects, no
/// transparent decompression.
pub fn local_http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .no_gzip()
        .no_brotli()
        .no_deflate()
        .no_zstd()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(120))
        .build()
        .expect("building a plain HTTP client cannot fail")
}

/// A query-protocol call (form POST) to moto as `access_key_id`. moto does
/// not check signatures, only reads the access key id (to find the account)
/// and the region from the credential scope.
pub async fn moto_query(
    http: &reqwest::Client,
    moto_url: &str,
    access_key_id: &str,
    service: &str,
    region: &str,
    params: &[(&str, &str)],
) -> anyhow::Result<(StatusCode, String)> {
    let date = chrono::Utc::now().format("%Y%m%d");
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let response = http
        .post(format!("{moto_url}/"))
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={access_key_id}/{date}/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0"
            ),
        )
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .body(body)
        .send()
        .await?;
    let status = StatusCode::from_u16(response.status().as_u16())?;
    let text = response.text().await?;
    Ok((status, text))
}

/// `sts:GetCallerIdentity` at moto for an access key: (account, arn).
pub async fn moto_caller_identity(
    http: &reqwest::Client,
    moto_url: &str,
    access_key_id: &str,
) -> anyhow::Result<(String, String)> {
    let (status, text) = moto_query(
        http,
        moto_url,
        access_key_id,
        "sts",
        "us-east-1",
        &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
    )
    .await?;
    if !status.is_success() {
        anyhow::bail!("moto GetCallerIdentity answered {status}: {text}");
    }
    let account = xml_text(&text, "Account")
        .ok_or_else(|| anyhow::anyhow!("no Account in GetCallerIdentity answer: {text}"))?;
    let arn = xml_text(&text, "Arn").unwrap_or_default();
    Ok((account, arn))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_from_authorization() {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIA/20250101/eu-west-1/inspector/aws4_request, SignedHeaders=host, Signature=abc"
                .parse()
                .unwrap(),
        );
        let s = CredentialScope::from_request(&h, None).unwrap();
        assert_eq!(s.access_key_id, "AKIA");
        assert_eq!(s.region, "eu-west-1");
        assert_eq!(s.service, "inspector");
        let q = "X-Amz-Credential=AK%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=1";
        let s = CredentialScope::from_request(&HeaderMap::new(), Some(q)).unwrap();
        assert_eq!(s.service, "s3");
    }

    #[test]
    fn app_token() {
        let mut h = HeaderMap::new();
        h.insert("user-agent", "aws-sdk-rust/1.3 os/linux".parse().unwrap());
        assert_eq!(caller_app(&h), "unknown");
        h.insert(
            "x-amz-user-agent",
            "aws-sdk-rust/1.3 api/sts/1.1 app/fanin-collector"
                .parse()
                .unwrap(),
        );
        assert_eq!(caller_app(&h), "fanin-collector");
    }

    #[test]
    fn xml_and_percent() {
        assert_eq!(
            xml_text("<a><B>x &amp; &#60;y&#x3e;</B></a>", "B").as_deref(),
            Some("x & <y>")
        );
        assert_eq!(percent_decode("%7B%22a%22%3A1%7D+"), "{\"a\":1}+");
        assert_eq!(percent_decode("100%"), "100%");
    }
}

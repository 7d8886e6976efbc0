//! API keys: bearer tokens with a read or write scope. With no keys configured every
//! request is allowed, and `serve` then listens on loopback only.

use std::collections::HashMap;
use std::path::Path;

use poem::http::{Method, StatusCode};
use poem::{Endpoint, Middleware, Request, Result};

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// GET and HEAD.
    Read,
    /// Everything.
    Write,
}

/// The configured keys, held as SHA-256 digests: a key given is hashed and compared with
/// each digest in full, so neither a matching prefix nor a key's length shows in the time
/// a refusal takes.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    keys: HashMap<[u8; 32], Scope>,
}

fn digest(key: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(key.as_bytes()).into()
}

impl ApiKeys {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Reads `key:scope` pairs separated by commas or new lines, as in `WFPLAN_API_KEYS`
    /// or a key file (where `#` starts a comment).
    pub fn parse(text: &str) -> Result<ApiKeys, String> {
        let mut keys = HashMap::new();
        for (i, entry) in text
            .split([',', '\n'])
            .map(|e| e.split('#').next().unwrap_or("").trim())
            .enumerate()
        {
            if entry.is_empty() {
                continue;
            }
            let (key, scope) = entry
                .rsplit_once(':')
                .ok_or_else(|| format!("entry {}: write key:read or key:write", i + 1))?;
            let scope = match scope.trim() {
                "read" => Scope::Read,
                "write" => Scope::Write,
                other => {
                    return Err(format!(
                        "entry {}: scope '{other}' is not read or write",
                        i + 1
                    ))
                }
            };
            if key.trim().len() < 16 {
                return Err(format!(
                    "entry {}: keys must be at least 16 characters",
                    i + 1
                ));
            }
            keys.insert(digest(key.trim()), scope);
        }
        Ok(ApiKeys { keys })
    }

    pub fn from_file(path: &Path) -> Result<ApiKeys, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn scope_of(&self, key: &str) -> Option<Scope> {
        // Every digest is compared in full, whatever the key given, and digests all have
        // one length: the time taken says nothing of the configured keys.
        let given = digest(key);
        let mut found = None;
        for (candidate, scope) in &self.keys {
            if constant_time_eq(candidate, &given) {
                found = Some(*scope);
            }
        }
        found
    }
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The key of an `Authorization` header: the scheme `Bearer` in any case (RFC 9110 makes
/// auth schemes case-insensitive), then the token.
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Middleware checking the bearer key of every request but the health check and the
/// API's documentation.
pub struct RequireKey {
    keys: ApiKeys,
}

impl RequireKey {
    pub fn new(keys: ApiKeys) -> Self {
        Self { keys }
    }
}

impl<E: Endpoint> Middleware<E> for RequireKey {
    type Output = RequireKeyEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        RequireKeyEndpoint {
            inner,
            keys: self.keys.clone(),
        }
    }
}

pub struct RequireKeyEndpoint<E> {
    inner: E,
    keys: ApiKeys,
}

const OPEN_PATHS: [&str; 3] = ["/health", "/openapi.json", "/openapi.yaml"];

impl<E: Endpoint> Endpoint for RequireKeyEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, request: Request) -> Result<Self::Output> {
        let path = request.uri().path();
        // The web app's files hold no data: the page asks for a key when the API does.
        let open = OPEN_PATHS.contains(&path)
            || path == "/docs"
            || path.starts_with("/docs/")
            || path == "/"
            || path.starts_with("/app/");
        if !self.keys.is_empty() && !open {
            let given = request
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(bearer_token);
            let needed = if matches!(*request.method(), Method::GET | Method::HEAD) {
                Scope::Read
            } else {
                Scope::Write
            };
            match given.and_then(|k| self.keys.scope_of(k)) {
                None => {
                    return Err(poem::Error::from_string(
                        "give a valid API key as `Authorization: Bearer <key>`",
                        StatusCode::UNAUTHORIZED,
                    ))
                }
                Some(scope) if scope < needed => {
                    return Err(poem::Error::from_string(
                        "this API key may only read; changes need a write key",
                        StatusCode::FORBIDDEN,
                    ))
                }
                Some(_) => {}
            }
        }
        self.inner.call(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_read_in_any_case() {
        for header in ["Bearer abc", "bearer abc", "BEARER  abc ", "BeArEr abc"] {
            assert_eq!(bearer_token(header), Some("abc"), "{header}");
        }
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearerabc"), None);
    }

    /// Keys are kept only as digests of one length, so a key given of another length is
    /// compared like any other (it once returned at once, revealing the length).
    #[test]
    fn keys_are_compared_as_fixed_length_digests() {
        let keys = ApiKeys::parse("0123456789abcdef:read,fedcba9876543210fedcba:write").unwrap();
        assert_eq!(keys.scope_of("0123456789abcdef"), Some(Scope::Read));
        assert_eq!(keys.scope_of("fedcba9876543210fedcba"), Some(Scope::Write));
        assert_eq!(keys.scope_of("short"), None);
        assert_eq!(keys.scope_of("0123456789abcdeX"), None);
        assert!(keys.keys.keys().all(|k| k.len() == 32));
    }
}

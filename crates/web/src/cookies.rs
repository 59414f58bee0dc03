//! The UI's cookies, made in one place so their attributes cannot differ between the routes that set them.
//!
//! - `nh_access`: the API access token (JWT). HttpOnly — page scripts never see a token — `SameSite=Lax`, so a
//!   link from a mail opens the page signed in, and `Secure` when the server speaks TLS.
//! - `nh_refresh`: the rotating refresh token, `SameSite=Strict`, sent only to `/ui` (the UI refreshes; the API
//!   never reads it from a cookie).
//! - `nh_csrf`: the form token (double submit: every form carries it, the guard compares, see [`crate::csrf`]).
//! - `nh_lang`, `nh_station`: the language switch and the station's process and equipment for the shift.

use axum::http::{header, HeaderMap, HeaderValue};
use cookie::{Cookie, SameSite};

pub const ACCESS: &str = "nh_access";
pub const REFRESH: &str = "nh_refresh";
pub const CSRF: &str = "nh_csrf";
pub const LANG: &str = "nh_lang";
pub const STATION: &str = "nh_station";

/// The value of cookie `name` in the request, if sent.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| Cookie::split_parse(v.to_string()))
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// How a cookie is scoped.
#[derive(Debug, Clone, Copy)]
pub struct Attrs {
    pub path: &'static str,
    pub http_only: bool,
    pub same_site: SameSite,
    /// Seconds; `None` = until the browser closes.
    pub max_age: Option<i64>,
}

/// A `Set-Cookie` value.
pub fn set(name: &str, value: &str, attrs: Attrs, secure: bool) -> HeaderValue {
    let mut c = Cookie::new(name.to_string(), value.to_string());
    c.set_path(attrs.path);
    c.set_http_only(attrs.http_only);
    c.set_same_site(attrs.same_site);
    c.set_secure(secure);
    if let Some(s) = attrs.max_age {
        c.set_max_age(cookie::time::Duration::seconds(s));
    }
    HeaderValue::from_str(&c.to_string()).expect("cookie values are made of token characters")
}

/// A `Set-Cookie` value that deletes `name`.
pub fn clear(name: &str, path: &'static str, secure: bool) -> HeaderValue {
    set(
        name,
        "",
        Attrs {
            path,
            http_only: true,
            same_site: SameSite::Lax,
            max_age: Some(0),
        },
        secure,
    )
}

pub fn access_attrs(max_age: i64) -> Attrs {
    Attrs {
        path: "/",
        http_only: true,
        same_site: SameSite::Lax,
        max_age: Some(max_age),
    }
}

pub fn refresh_attrs(max_age: i64) -> Attrs {
    Attrs {
        path: "/ui",
        http_only: true,
        same_site: SameSite::Strict,
        max_age: Some(max_age),
    }
}

pub const CSRF_ATTRS: Attrs = Attrs {
    path: "/",
    http_only: true,
    same_site: SameSite::Strict,
    max_age: None,
};

/// Preferences (language, station setup): a year, readable by nothing but the server all the same.
pub const PREF_ATTRS: Attrs = Attrs {
    path: "/",
    http_only: true,
    same_site: SameSite::Lax,
    max_age: Some(365 * 24 * 3600),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_set_as_documented() {
        let v = set(ACCESS, "t.o.k", access_attrs(60), true);
        let s = v.to_str().unwrap();
        for part in [
            "nh_access=t.o.k",
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/",
            "Max-Age=60",
        ] {
            assert!(s.contains(part), "{s} lacks {part}");
        }
        let v = set(REFRESH, "r", refresh_attrs(60), false);
        let s = v.to_str().unwrap();
        assert!(
            s.contains("SameSite=Strict") && s.contains("Path=/ui") && !s.contains("Secure"),
            "{s}"
        );
    }

    #[test]
    fn reads_one_cookie_among_many() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; nh_csrf=abc"));
        h.append(header::COOKIE, HeaderValue::from_static("nh_lang=ko"));
        assert_eq!(get(&h, CSRF).as_deref(), Some("abc"));
        assert_eq!(get(&h, LANG).as_deref(), Some("ko"));
        assert_eq!(get(&h, "missing"), None);
    }
}

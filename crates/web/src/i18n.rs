//! English and Korean. Each page module owns a table of its messages (`key, English, Korean`); [`t`] looks a key
//! up in all of them. A key missing from every table is a programming error, caught by the test that renders
//! each page in both languages (the lookup panics in debug builds, shows the key in release).
//!
//! The language comes from the `nh_lang` cookie (the switch in the header), else from the browser's
//! `Accept-Language`, else English.

use axum::http::{header, HeaderMap};
use std::collections::HashMap;
use std::sync::LazyLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ko,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ko => "ko",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "en" => Some(Lang::En),
            "ko" => Some(Lang::Ko),
            _ => None,
        }
    }

    /// From the `nh_lang` cookie, else the first supported language of `Accept-Language` by its q-value.
    pub fn from_headers(headers: &HeaderMap) -> Lang {
        if let Some(l) =
            crate::cookies::get(headers, crate::cookies::LANG).and_then(|v| Lang::parse(&v))
        {
            return l;
        }
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut best: Option<(f32, Lang)> = None;
        for part in accept.split(',') {
            let mut it = part.trim().split(';');
            let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = it
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let lang = match tag.split('-').next().unwrap_or("") {
                "ko" => Lang::Ko,
                "en" => Lang::En,
                _ => continue,
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or(Lang::En)
    }
}

/// A message table: `(key, English, Korean)`.
pub type Messages = &'static [(&'static str, &'static str, &'static str)];

static ALL: LazyLock<HashMap<&'static str, (&'static str, &'static str)>> = LazyLock::new(|| {
    let mut map = HashMap::new();
    for table in crate::pages::MESSAGES {
        for (key, en, ko) in table.iter() {
            let previous = map.insert(*key, (*en, *ko));
            debug_assert!(previous.is_none(), "message key {key} is defined twice");
        }
    }
    map
});

/// The message `key` in `lang`.
pub fn t(lang: Lang, key: &'static str) -> &'static str {
    match ALL.get(key) {
        Some((en, ko)) => match lang {
            Lang::En => en,
            Lang::Ko => ko,
        },
        None => {
            debug_assert!(false, "no message for key {key}");
            key
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn every_key_is_defined_once_with_both_languages() {
        let mut seen = std::collections::HashSet::new();
        for table in crate::pages::MESSAGES {
            for (key, en, ko) in table.iter() {
                assert!(seen.insert(*key), "{key} defined twice");
                assert!(
                    !en.is_empty() && !ko.is_empty(),
                    "{key} lacks a translation"
                );
            }
        }
    }

    #[test]
    fn language_from_cookie_then_accept_language() {
        let mut h = HeaderMap::new();
        assert_eq!(Lang::from_headers(&h), Lang::En);
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("fr-FR, ko-KR;q=0.8, en;q=0.5"),
        );
        assert_eq!(Lang::from_headers(&h), Lang::Ko);
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("en-US,ko;q=0.9"),
        );
        assert_eq!(Lang::from_headers(&h), Lang::En);
        h.insert(header::COOKIE, HeaderValue::from_static("nh_lang=ko"));
        assert_eq!(Lang::from_headers(&h), Lang::Ko);
    }
}

//! `?page=&page_size=&search=&ordering=` in, `{count, next, previous, results}` out.

use axum::http::Uri;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{AppError, AppResult};

pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 200;
/// Far beyond any list a school has; keeps `page × page_size` well inside an i64.
pub const MAX_PAGE: i64 = 1_000_000;

#[derive(Debug, Default, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page number, from 1.
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<i64>,
    /// Rows per page (default 50, at most 200).
    #[param(minimum = 1)]
    pub page_size: Option<i64>,
    /// Free-text search.
    #[param(max_length = 100)]
    pub search: Option<String>,
    /// A field name, `-` in front for descending.
    pub ordering: Option<String>,
}

impl ListParams {
    pub fn page(&self) -> AppResult<i64> {
        match self.page {
            None => Ok(1),
            Some(p) if (1..=MAX_PAGE).contains(&p) => Ok(p),
            Some(_) => Err(AppError::field(
                "page",
                format!("Must be between 1 and {MAX_PAGE}."),
            )),
        }
    }

    pub fn page_size(&self) -> AppResult<i64> {
        match self.page_size {
            None => Ok(DEFAULT_PAGE_SIZE),
            Some(n) if n >= 1 => Ok(n.min(MAX_PAGE_SIZE)),
            Some(_) => Err(AppError::field("page_size", "Must be 1 or more.")),
        }
    }

    pub fn limit_offset(&self) -> AppResult<(i64, i64)> {
        let size = self.page_size()?;
        let offset = (self.page()? - 1) * size;
        Ok((size, offset))
    }

    /// A `%term%` pattern for ILIKE, with LIKE's wildcards escaped; None when empty.
    pub fn search_pattern(&self) -> AppResult<Option<String>> {
        let Some(term) = self
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        else {
            return Ok(None);
        };
        if term.chars().count() > 100 {
            return Err(AppError::field("search", "Must be at most 100 characters."));
        }
        let escaped = term
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        Ok(Some(format!("%{escaped}%")))
    }

    /// Maps `?ordering=` onto one of the allowed ORDER BY lists (never user text in SQL).
    /// `allowed` lists (name, sql expressions); `-name` sorts descending on every expression
    /// of the list, tie-breakers included.
    pub fn order_by(&self, allowed: &[(&str, &[&str])], default: &str) -> AppResult<String> {
        let Some(raw) = self
            .ordering
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        else {
            return Ok(default.to_owned());
        };
        let (name, desc) = match raw.strip_prefix('-') {
            Some(name) => (name, true),
            None => (raw, false),
        };
        let Some((_, exprs)) = allowed.iter().find(|(n, _)| *n == name) else {
            let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
            return Err(AppError::field(
                "ordering",
                format!("Order by one of: {}.", names.join(", ")),
            ));
        };
        let direction = if desc { "DESC" } else { "ASC" };
        Ok(exprs
            .iter()
            .map(|e| format!("{e} {direction}"))
            .collect::<Vec<_>>()
            .join(", "))
    }
}

/// `?page=&page_size=` for the short lists a school keeps whole (sessions, classes, subjects,
/// roles…): they are read in full and paged in memory, so they need no search or ordering.
#[derive(Debug, Default, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page number, from 1.
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<i64>,
    /// Rows per page (default 50, at most 200).
    #[param(minimum = 1)]
    pub page_size: Option<i64>,
}

impl From<&PageParams> for ListParams {
    fn from(p: &PageParams) -> Self {
        ListParams {
            page: p.page,
            page_size: p.page_size,
            ..ListParams::default()
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub count: i64,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<T>,
}

impl<T> Page<T> {
    pub fn new(results: Vec<T>, count: i64, params: &ListParams, uri: &Uri) -> AppResult<Self> {
        let page = params.page()?;
        let size = params.page_size()?;
        let has_next = page * size < count;
        Ok(Self {
            count,
            next: has_next.then(|| page_url(uri, page + 1)),
            previous: (page > 1).then(|| page_url(uri, page - 1)),
            results,
        })
    }

    /// One page of a list read in full.
    pub fn of_all(all: Vec<T>, params: &PageParams, uri: &Uri) -> AppResult<Self> {
        let params = ListParams::from(params);
        let (limit, offset) = params.limit_offset()?;
        let count = i64::try_from(all.len()).unwrap_or(i64::MAX);
        let results = all
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .collect();
        Self::new(results, count, &params, uri)
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            count: self.count,
            next: self.next,
            previous: self.previous,
            results: self.results.into_iter().map(f).collect(),
        }
    }
}

/// The same URL with `page` replaced.
fn page_url(uri: &Uri, page: i64) -> String {
    let mut pairs: Vec<(String, String)> = uri
        .query()
        .map(|q| serde_urlencoded::from_str(q).unwrap_or_default())
        .unwrap_or_default();
    pairs.retain(|(k, _)| k != "page");
    pairs.push(("page".to_owned(), page.to_string()));
    let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    format!("{}?{}", uri.path(), query)
}

/// A `WHERE` built from only the filters in use, each with one parameter numbered in order.
/// A catch-all `($1 IS NULL OR col = $1)` would share one cached generic plan across every
/// combination of filters, and generic plans are forced in school transactions; this way each
/// combination is its own statement with a plan that fits it.
#[derive(Debug, Default)]
pub struct Conditions {
    parts: Vec<String>,
}

impl Conditions {
    /// Adds a condition; `$?` in it becomes the next parameter number.
    pub fn push(&mut self, template: &str) {
        let n = self.parts.len() + 1;
        self.parts.push(template.replace("$?", &format!("${n}")));
    }

    /// The number of the first parameter after the conditions' own.
    pub fn next_param(&self) -> usize {
        self.parts.len() + 1
    }

    pub fn where_sql(&self) -> String {
        if self.parts.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.parts.join(" AND "))
        }
    }
}

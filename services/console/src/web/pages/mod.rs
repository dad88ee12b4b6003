//! The pages' handlers, one module per part of the operator's work; each gathers a typed
//! view from [`crate::api`]'s helpers, [`crate::actions`] or [`crate::upstream`] and renders
//! it with a template ([`super::views`]). Personal data reaches a page only through
//! [`crate::api::for_caller`] (masked for viewers).
//!
//! | module | pages |
//! |---|---|
//! | [`session`] | login form, login, logout |
//! | [`operations`] | pipeline health, dead letters, upload, audit log |
//! | [`decisions`] | reconciliation log, review queue, side by side |
//! | [`records`] | cooperatives (golden records), merge |
//! | [`indicators`] | indicators with charts, the printable report |

mod decisions;
mod indicators;
mod operations;
mod records;
mod session;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;

use super::views;
use crate::actions::ApiError;
use crate::auth::Caller;

pub use decisions::{compare, log, review, review_decide};
pub use indicators::{indicators, report};
pub use operations::{audit, dlq, dlq_action, dlq_show, health, upload, upload_form};
pub use records::{cooperative, cooperative_merge, cooperatives};
pub use session::{login, login_form, logout, safe_next};

/// What a page handler answers.
type Page = Response;

/// A whole page: `template` rendered with `view`, inside the layout.
fn render_page_for(
    title: &str,
    caller: Option<&Caller>,
    active: &str,
    template: &str,
    view: impl Serialize,
) -> Page {
    let body = views::render(template, view);
    Html(views::layout(title, caller, active, &body)).into_response()
}

/// A whole page for a signed-in caller.
fn render_page(
    title: &str,
    caller: &Caller,
    active: &str,
    template: &str,
    view: impl Serialize,
) -> Page {
    render_page_for(title, Some(caller), active, template, view)
}

/// An error page with a status.
fn error_page(status: StatusCode, caller: Option<&Caller>, message: &str) -> Response {
    let page = render_page_for(
        "Error",
        caller,
        "",
        "error.html",
        minijinja::context! {
            status => status.as_u16(),
            reason => status.canonical_reason().unwrap_or(""),
            message,
        },
    );
    (status, page).into_response()
}

/// An action's failure as an error page.
fn fail(caller: &Caller, e: ApiError) -> Response {
    error_page(e.status, Some(caller), &e.message)
}

/// What the pages' tests put where a value goes, and the check that it arrived escaped.
#[cfg(test)]
mod escaping {
    pub const SCRIPT: &str = "<script>alert(1)</script>";

    /// The page shows the value, escaped, and never as markup.
    pub fn assert_escaped(page: &str) {
        assert!(!page.contains("<script>alert"), "unescaped: {page}");
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
            "the value is not shown: {page}"
        );
    }

    /// A template rendered with a view, as the handler renders it.
    pub fn body(template: &str, view: impl serde::Serialize) -> String {
        super::views::render(template, view)
    }
}

#[cfg(test)]
mod tests {
    use super::escaping::{SCRIPT, assert_escaped};
    use super::*;

    #[test]
    fn the_error_page_escapes_its_message() {
        let page = error_page(StatusCode::NOT_FOUND, None, SCRIPT);
        assert_eq!(page.status(), StatusCode::NOT_FOUND);
        let body = views::render(
            "error.html",
            minijinja::context! { status => 404, reason => "Not Found", message => SCRIPT },
        );
        assert_escaped(&body);
    }
}

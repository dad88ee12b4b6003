//! Access control: who may do what.
//!
//! - [`Role`]: `viewer` (read), `reviewer` (+ review link/separate, merge/split), `admin`
//!   (+ dead-letter replay/discard, sync triggers, recomputes). Roles are ordered: a higher
//!   role may do everything a lower one may.
//! - [`Users`]: the users file (`CONSOLE_USERS_FILE`, TOML), passwords as argon2 PHC
//!   strings; [`hash_password`] makes one. [`UsersSource`] re-reads the file on every check
//!   (it is small) and re-parses it when its bytes changed, so that a user removed, a role
//!   lowered or a password changed there takes effect on the next request.
//! - [`Sessions`]: browser sessions (cookie `hub_session`, `HttpOnly`, `SameSite=Strict`) and
//!   CLI bearer tokens, both random 256-bit secrets of which only the SHA-256 is stored, in
//!   the console's own `console.sessions` table, with an expiry.
//!   A session is valid only while its user is still in the users file with the same
//!   password hash ([`Sessions::caller`]); its role is the file's current one.
//! - [`Caller`]: the authenticated caller of a request, and [`Caller::require`].
//!
//! Owns the `console.sessions` table only; never another service's data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE};
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Error;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "hub_session";

/// What a user may do; ordered from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Reviewer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
        }
    }

    /// Reviewers and admins see personal data (representatives' names, phones); viewers see
    /// it masked.
    pub fn sees_personal_data(self) -> bool {
        self >= Role::Reviewer
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "reviewer" => Ok(Role::Reviewer),
            "admin" => Ok(Role::Admin),
            other => Err(format!("expected viewer, reviewer or admin, got {other:?}")),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One user of the users file.
#[derive(Debug, Clone, Deserialize)]
pub struct UserEntry {
    pub name: String,
    pub role: Role,
    /// An argon2 PHC string (`$argon2id$v=19$…`).
    pub password_hash: String,
}

#[derive(Debug, Deserialize)]
struct UsersFile {
    #[serde(default, rename = "user")]
    users: Vec<UserEntry>,
}

/// The configured users, by name.
#[derive(Debug, Clone, Default)]
pub struct Users {
    by_name: BTreeMap<String, UserEntry>,
}

impl Users {
    /// Reads and checks a users file: every entry has a name, a unique one, and a parseable
    /// argon2 hash.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Users {
            path: path.to_owned(),
            problem: e.to_string(),
        })?;
        Self::parse(&text).map_err(|problem| Error::Users {
            path: path.to_owned(),
            problem,
        })
    }

    /// Parses the users file's text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: UsersFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut by_name = BTreeMap::new();
        for u in file.users {
            if u.name.trim().is_empty() {
                return Err("a user has an empty name".into());
            }
            PasswordHash::new(&u.password_hash)
                .map_err(|e| format!("user {:?}: password_hash: {e}", u.name))?;
            if by_name.insert(u.name.clone(), u.clone()).is_some() {
                return Err(format!("user {:?} appears twice", u.name));
            }
        }
        if by_name.is_empty() {
            return Err("no [[user]] entries".into());
        }
        Ok(Self { by_name })
    }

    /// The user, when the password is right. Runs a hash comparison even for an unknown
    /// user, so timing does not tell which names exist.
    pub fn verify(&self, name: &str, password: &str) -> Option<&UserEntry> {
        match self.by_name.get(name) {
            Some(u) => {
                let hash = PasswordHash::new(&u.password_hash).ok()?;
                Argon2::default()
                    .verify_password(password.as_bytes(), &hash)
                    .ok()
                    .map(|_| u)
            }
            None => {
                static DUMMY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
                let dummy = DUMMY.get_or_init(|| hash_password("no such user").ok());
                if let Some(hash) = dummy.as_deref().and_then(|d| PasswordHash::new(d).ok()) {
                    let _ = Argon2::default().verify_password(password.as_bytes(), &hash);
                }
                None
            }
        }
    }

    /// The user named `name`, if any.
    pub fn get(&self, name: &str) -> Option<&UserEntry> {
        self.by_name.get(name)
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// The users file, re-read on every check and re-parsed when it changed.
pub struct UsersSource {
    path: PathBuf,
    /// The bytes last parsed and what they gave.
    cache: Mutex<(Vec<u8>, Arc<Users>)>,
}

impl UsersSource {
    /// Reads the file once (start fails when it is missing or wrong).
    pub fn load(path: &Path) -> Result<Self, Error> {
        let bytes = std::fs::read(path).map_err(|e| Error::Users {
            path: path.to_owned(),
            problem: e.to_string(),
        })?;
        let users =
            Users::parse(&String::from_utf8_lossy(&bytes)).map_err(|problem| Error::Users {
                path: path.to_owned(),
                problem,
            })?;
        Ok(Self {
            path: path.to_owned(),
            cache: Mutex::new((bytes, Arc::new(users))),
        })
    }

    /// The users as the file says now. When it cannot be read or parsed, nobody (fail
    /// closed: a broken users file must not keep a removed user in).
    pub async fn current(&self) -> Arc<Users> {
        let bytes = match tokio::fs::read(&self.path).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, file = %self.path.display(), "users file unreadable: every login and session refused");
                return Arc::new(Users::default());
            }
        };
        let Ok(mut cache) = self.cache.lock() else {
            return Arc::new(Users::default());
        };
        if cache.0 != bytes {
            match Users::parse(&String::from_utf8_lossy(&bytes)) {
                Ok(users) => {
                    tracing::info!(users = users.len(), file = %self.path.display(), "users file reloaded");
                    *cache = (bytes, Arc::new(users));
                }
                Err(problem) => {
                    tracing::error!(%problem, file = %self.path.display(), "users file invalid: every login and session refused");
                    return Arc::new(Users::default());
                }
            }
        }
        cache.1.clone()
    }
}

/// What a session is bound to: the user's password hash as it was at login.
fn credential_digest(user: &UserEntry) -> String {
    digest(&user.password_hash)
}

/// An argon2id PHC string for `password`, for a users file.
pub fn hash_password(password: &str) -> Result<String, Error> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Hash(e.to_string()))
}

/// How a caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionKind {
    /// Browser session cookie.
    Cookie,
    /// CLI bearer token.
    Token,
}

impl SessionKind {
    fn as_str(self) -> &'static str {
        match self {
            SessionKind::Cookie => "cookie",
            SessionKind::Token => "token",
        }
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, Serialize)]
pub struct Caller {
    pub name: String,
    pub role: Role,
    pub kind: SessionKind,
    pub expires_at: DateTime<Utc>,
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No valid credentials: 401.
    Unauthenticated,
    /// Authenticated, role too low: 403.
    Forbidden { needed: Role, has: Role },
}

impl Caller {
    /// `Ok` when the caller's role is at least `needed`.
    pub fn require(&self, needed: Role) -> Result<(), Refusal> {
        if self.role >= needed {
            Ok(())
        } else {
            Err(Refusal::Forbidden {
                needed,
                has: self.role,
            })
        }
    }
}

/// Sessions and tokens in `console.sessions`.
#[derive(Clone)]
pub struct Sessions {
    pool: sqlx::PgPool,
    ttl: Duration,
}

fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl Sessions {
    pub fn new(pool: sqlx::PgPool, ttl_minutes: u32) -> Self {
        Self {
            pool,
            ttl: Duration::minutes(i64::from(ttl_minutes)),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Opens a session for `user`; returns the secret (shown once) and its expiry.
    pub async fn open(
        &self,
        user: &UserEntry,
        kind: SessionKind,
    ) -> Result<(String, DateTime<Utc>), sqlx::Error> {
        let secret =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let expires_at = Utc::now() + self.ttl;
        sqlx::query(
            "INSERT INTO sessions (secret_sha256, username, role, kind, expires_at,
                                   credential_sha256)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(digest(&secret))
        .bind(&user.name)
        .bind(user.role.as_str())
        .bind(kind.as_str())
        .bind(expires_at)
        .bind(credential_digest(user))
        .execute(&self.pool)
        .await?;
        // expired rows are of no use to anyone
        let _ = sqlx::query("DELETE FROM sessions WHERE expires_at < now()")
            .execute(&self.pool)
            .await;
        Ok((secret, expires_at))
    }

    /// The caller a secret belongs to, if it is known, not expired, and its user is still in
    /// `users` with the password it logged in with; the role is the users file's current one.
    pub async fn lookup(&self, secret: &str, users: &Users) -> Result<Option<Caller>, sqlx::Error> {
        let row: Option<(String, String, DateTime<Utc>, Option<String>)> = sqlx::query_as(
            "SELECT username, kind, expires_at, credential_sha256 FROM sessions
              WHERE secret_sha256 = $1 AND expires_at > now()",
        )
        .bind(digest(secret))
        .fetch_optional(&self.pool)
        .await?;
        let Some((name, kind, expires_at, credential)) = row else {
            return Ok(None);
        };
        let current = users
            .get(&name)
            .filter(|u| credential.as_deref() == Some(credential_digest(u).as_str()));
        let Some(user) = current else {
            // removed from the users file, or its password changed: the session is over
            tracing::info!(user = %name, "session ended: user removed or password changed");
            self.close(secret).await?;
            return Ok(None);
        };
        Ok(Some(Caller {
            name,
            role: user.role,
            kind: if kind == "token" {
                SessionKind::Token
            } else {
                SessionKind::Cookie
            },
            expires_at,
        }))
    }

    /// Ends a session (logout).
    pub async fn close(&self, secret: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM sessions WHERE secret_sha256 = $1")
            .bind(digest(secret))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The caller of a request: a bearer token first, else the session cookie; checked
    /// against `users` (the users file as it is now).
    pub async fn caller(
        &self,
        headers: &HeaderMap,
        users: &Users,
    ) -> Result<Option<Caller>, sqlx::Error> {
        match credentials(headers) {
            Some(secret) => self.lookup(&secret, users).await,
            None => Ok(None),
        }
    }
}

/// The secret a request carries: `Authorization: Bearer …`, else the session cookie.
pub fn credentials(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let v = v.trim();
        if let Some(t) = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
        {
            let t = t.trim();
            if !t.is_empty() {
                return Some(t.to_owned());
            }
        }
    }
    session_cookie(headers)
}

/// The value of the session cookie, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE_NAME)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The `Set-Cookie` value for a new session.
pub fn session_cookie_header(secret: &str, max_age: Duration, secure: bool) -> String {
    format!(
        "{COOKIE_NAME}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        max_age.num_seconds(),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie_header(secure: bool) -> String {
    format!(
        "{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Admin > Role::Reviewer && Role::Reviewer > Role::Viewer);
        let c = Caller {
            name: "v".into(),
            role: Role::Viewer,
            kind: SessionKind::Token,
            expires_at: Utc::now(),
        };
        assert!(c.require(Role::Viewer).is_ok());
        assert_eq!(
            c.require(Role::Admin),
            Err(Refusal::Forbidden {
                needed: Role::Admin,
                has: Role::Viewer
            })
        );
        assert!(!Role::Viewer.sees_personal_data() && Role::Reviewer.sees_personal_data());
    }

    #[test]
    fn users_file_round_trip() {
        let hash = hash_password("s3cret").expect("hash");
        let text =
            format!("[[user]]\nname = \"lan\"\nrole = \"reviewer\"\npassword_hash = \"{hash}\"\n");
        let users = Users::parse(&text).expect("valid");
        assert_eq!(
            users.verify("lan", "s3cret").map(|u| u.role),
            Some(Role::Reviewer)
        );
        assert!(users.verify("lan", "wrong").is_none());
        assert!(users.verify("nobody", "s3cret").is_none());
        let twice = format!("{text}{text}");
        assert!(
            Users::parse(&twice)
                .expect_err("duplicate")
                .contains("twice")
        );
        let bad = "[[user]]\nname = \"x\"\nrole = \"root\"\npassword_hash = \"x\"\n";
        assert!(Users::parse(bad).is_err());
        let bad = "[[user]]\nname = \"x\"\nrole = \"admin\"\npassword_hash = \"plain\"\n";
        assert!(
            Users::parse(bad)
                .expect_err("not a hash")
                .contains("password_hash")
        );
    }

    #[test]
    fn credentials_from_bearer_or_cookie() {
        let mut h = HeaderMap::new();
        assert_eq!(credentials(&h), None);
        h.insert(COOKIE, "a=1; hub_session=abc; b=2".parse().expect("header"));
        assert_eq!(credentials(&h).as_deref(), Some("abc"));
        h.insert(AUTHORIZATION, "Bearer tok".parse().expect("header"));
        assert_eq!(credentials(&h).as_deref(), Some("tok"));
        let c = session_cookie_header("s", Duration::minutes(1), false);
        assert!(
            c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Max-Age=60")
        );
    }

    #[test]
    fn the_dev_users_file_is_valid() {
        let text = include_str!("../../../deploy/console/users.dev.toml");
        let users = Users::parse(text).expect("valid dev users file");
        // the documented dev passwords (deploy/console/README.md)
        assert_eq!(
            users.verify("viewer", "viewer-dev").map(|u| u.role),
            Some(Role::Viewer)
        );
        assert_eq!(
            users.verify("reviewer", "reviewer-dev").map(|u| u.role),
            Some(Role::Reviewer)
        );
        assert_eq!(
            users.verify("admin", "admin-dev").map(|u| u.role),
            Some(Role::Admin)
        );
    }
}

//! The `api-version` query parameter every service API request must carry, as on Azure
//! IoT Hub: a request without one, or with one that is not a version's name, gets
//! 400 InvalidProtocolVersion (400001). The hub serves the 2021-04-12 shapes to every
//! dated version, as older SDKs only differ in fields this hub also sends.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::hub::error::HubError;

/// Refuses requests without a usable `api-version`.
pub async fn require_api_version(request: Request, next: Next) -> Response {
    match check(request.uri().query()) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

/// Checks the query string for `api-version=YYYY-MM-DD` (optionally `-preview`).
fn check(query: Option<&str>) -> Result<(), HubError> {
    let version = query
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("api-version="));
    match version {
        None => Err(HubError::InvalidProtocolVersion(
            "The request has no api-version; add ?api-version=2021-04-12 to the URL".into(),
        )),
        Some(version) if is_version_name(version) => Ok(()),
        Some(version) => Err(HubError::InvalidProtocolVersion(format!(
            "The api-version '{version}' is not a version of the IoT Hub service API; use \
             api-version=2021-04-12"
        ))),
    }
}

/// `YYYY-MM-DD` or `YYYY-MM-DD-preview`, the form of every IoT Hub API version.
fn is_version_name(version: &str) -> bool {
    let date = version.strip_suffix("-preview").unwrap_or(version);
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok() && date.len() == 10
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dated_versions_are_accepted_wherever_they_stand() {
        for query in [
            "api-version=2021-04-12",
            "top=5&api-version=2020-05-31-preview",
            "api-version=2018-06-30&x=1",
        ] {
            assert!(check(Some(query)).is_ok(), "{query}");
        }
    }

    #[test]
    fn missing_or_malformed_versions_are_refused_with_400001() {
        for query in [
            None,
            Some(""),
            Some("version=2021-04-12"),
            Some("api-version="),
            Some("api-version=latest"),
            Some("api-version=2021-4-12"),
            Some("api-version=2021-13-01"),
        ] {
            let error = check(query).unwrap_err();
            assert_eq!(error.error_code(), 400001, "{query:?}");
            assert!(error.to_string().contains("2021-04-12"), "{error}");
        }
    }
}

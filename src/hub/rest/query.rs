//! `POST /devices/query`: runs an IoT Hub query over the twins, one page at a time.
//! The page size comes from `x-ms-max-item-count`; the next page is asked for by
//! repeating the same body with the `x-ms-continuation` token of the previous answer.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::HubState;
use super::extract::JsonBody;
use crate::hub::error::HubError;
use crate::query;

/// Rows per page when the client does not say.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// The most rows one page may hold.
pub const MAX_PAGE_SIZE: usize = 1000;

const CONTINUATION: &str = "x-ms-continuation";
const MAX_ITEM_COUNT: &str = "x-ms-max-item-count";
const ITEM_TYPE: &str = "x-ms-item-type";

/// Runs one page of a query.
pub async fn query_twins(
    State(state): State<HubState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, HubError> {
    let text = body.get("query").and_then(Value::as_str).ok_or_else(|| {
        HubError::ArgumentInvalid(
            "The query body must be {\"query\": \"SELECT * FROM devices ...\"}".into(),
        )
    })?;
    let query = query::parse(text).map_err(|e| {
        HubError::QueryInvalid(format!(
            "The query is not valid: {e}\n{}",
            e.caret_lines(text)
        ))
    })?;
    let page_size = page_size(&headers)?;
    let skip = continuation(&headers)?;
    let store = state.store.clone();
    let item_type = query.item_type();
    let mut rows = tokio::task::spawn_blocking(move || {
        store.query_page(&query, skip, page_size.saturating_add(1))
    })
    .await
    .map_err(|e| HubError::Server(format!("the query task failed: {e}")))?;
    let more = rows.len() > page_size;
    rows.truncate(page_size);
    let next = skip + rows.len();
    let mut response = Json(rows).into_response();
    let headers = response.headers_mut();
    headers.insert(ITEM_TYPE, HeaderValue::from_static(item_type.as_str()));
    if more && let Ok(token) = HeaderValue::from_str(&encode_continuation(next)) {
        headers.insert(CONTINUATION, token);
    }
    Ok(response)
}

fn page_size(headers: &HeaderMap) -> Result<usize, HubError> {
    let Some(value) = headers.get(MAX_ITEM_COUNT) else {
        return Ok(DEFAULT_PAGE_SIZE);
    };
    let size = value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse::<usize>().ok())
        .ok_or_else(|| {
            HubError::ArgumentInvalid(format!(
                "The {MAX_ITEM_COUNT} header must be a whole number from 1 to {MAX_PAGE_SIZE}"
            ))
        })?;
    // Azure treats the count as a hint: ask for more than allowed, get the maximum.
    Ok(size.clamp(1, MAX_PAGE_SIZE))
}

fn continuation(headers: &HeaderMap) -> Result<usize, HubError> {
    let Some(value) = headers.get(CONTINUATION) else {
        return Ok(0);
    };
    value
        .to_str()
        .ok()
        .filter(|text| !text.is_empty())
        .map_or(Ok(0), decode_continuation)
}

/// Continuation tokens are opaque to clients: the offset of the next row.
fn encode_continuation(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("{{\"offset\":{offset}}}"))
}

fn decode_continuation(token: &str) -> Result<usize, HubError> {
    URL_SAFE_NO_PAD
        .decode(token.trim())
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|value| value.get("offset").and_then(Value::as_u64))
        .and_then(|offset| usize::try_from(offset).ok())
        .ok_or_else(|| {
            HubError::ArgumentInvalid(format!(
                "The {CONTINUATION} token is not one this hub issued; start the query again \
                 without it"
            ))
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn continuation_round_trips_and_rejects_garbage() {
        assert_eq!(
            decode_continuation(&encode_continuation(2500)).unwrap(),
            2500
        );
        for bad in ["x", "!!", &URL_SAFE_NO_PAD.encode("{\"offset\":-1}")] {
            assert_eq!(decode_continuation(bad).unwrap_err().error_code(), 400004);
        }
    }

    #[test]
    fn page_size_is_a_clamped_hint() {
        let mut headers = HeaderMap::new();
        assert_eq!(page_size(&headers).unwrap(), DEFAULT_PAGE_SIZE);
        headers.insert(MAX_ITEM_COUNT, HeaderValue::from_static("5000"));
        assert_eq!(page_size(&headers).unwrap(), MAX_PAGE_SIZE);
        headers.insert(MAX_ITEM_COUNT, HeaderValue::from_static("0"));
        assert_eq!(page_size(&headers).unwrap(), 1);
        headers.insert(MAX_ITEM_COUNT, HeaderValue::from_static("ten"));
        assert!(page_size(&headers).is_err());
    }
}

//! `POST /devices/query`: runs an IoT Hub query over the twins, one page at a time.
//! The page size comes from `x-ms-max-item-count`; the next page is asked for by
//! repeating the same body with the `x-ms-continuation` token of the previous answer.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::HubState;
use super::extract::JsonBody;
use crate::hub::error::HubError;
use crate::hub::store::{PageCursor, QueryPage};
use crate::query::{self, Source};

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
    let from = continuation(&headers)?;
    let item_type = query.item_type();
    let (store, jobs) = (state.store.clone(), state.jobs.clone());
    let page = tokio::task::spawn_blocking(move || {
        if query.source() != Source::DevicesJobs {
            return store.query_page(&query, from.as_ref(), page_size);
        }
        match from {
            None => Ok(jobs.device_rows(&query, 0, page_size)),
            Some(PageCursor::Offset(skip)) => Ok(jobs.device_rows(&query, skip, page_size)),
            Some(PageCursor::AfterDevice { .. }) => Err(HubError::ArgumentInvalid(
                "The x-ms-continuation token belongs to another query; start this query again \
                 without it"
                    .into(),
            )),
        }
    })
    .await
    .map_err(|e| HubError::Server(format!("the query task failed: {e}")))??;
    Ok(page_response(page, item_type.as_str()))
}

/// A page of rows as the query APIs answer it: a JSON array, the rows' type in
/// `x-ms-item-type`, and `x-ms-continuation` only when another page follows (SDKs
/// read an empty token as "more").
pub(super) fn page_response(page: QueryPage, item_type: &'static str) -> Response {
    let mut response = Json(page.rows).into_response();
    let headers = response.headers_mut();
    headers.insert(ITEM_TYPE, HeaderValue::from_static(item_type));
    if let Some(next) = page.next
        && let Ok(token) = HeaderValue::from_str(&encode_continuation(&next))
    {
        headers.insert(CONTINUATION, token);
    }
    response
}

/// The page size a request asks for with `x-ms-max-item-count`.
pub(super) fn page_size(headers: &HeaderMap) -> Result<usize, HubError> {
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

/// Where a request's `x-ms-continuation` token says the page starts.
pub(super) fn continuation(headers: &HeaderMap) -> Result<Option<PageCursor>, HubError> {
    let Some(value) = headers.get(CONTINUATION) else {
        return Ok(None);
    };
    match value.to_str().ok().filter(|text| !text.is_empty()) {
        None => Ok(None),
        Some(token) => decode_continuation(token).map(Some),
    }
}

/// Continuation tokens are opaque to clients: where the next page starts, as JSON.
fn encode_continuation(cursor: &PageCursor) -> String {
    let state = match cursor {
        PageCursor::AfterDevice { device_id, emitted } => {
            json!({"after": device_id, "emitted": emitted})
        }
        PageCursor::Offset(offset) => json!({ "offset": offset }),
    };
    URL_SAFE_NO_PAD.encode(state.to_string())
}

fn decode_continuation(token: &str) -> Result<PageCursor, HubError> {
    let state = URL_SAFE_NO_PAD
        .decode(token.trim())
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .unwrap_or_default();
    let after = state.get("after").and_then(Value::as_str);
    let emitted = state.get("emitted").and_then(Value::as_u64);
    let offset = state
        .get("offset")
        .and_then(Value::as_u64)
        .and_then(|offset| usize::try_from(offset).ok());
    match (after, emitted, offset) {
        (Some(device_id), Some(emitted), None) => Ok(PageCursor::AfterDevice {
            device_id: device_id.to_owned(),
            emitted,
        }),
        (None, None, Some(offset)) => Ok(PageCursor::Offset(offset)),
        _ => Err(HubError::ArgumentInvalid(format!(
            "The {CONTINUATION} token is not one this hub issued; start the query again \
             without it"
        ))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn continuation_round_trips_and_rejects_garbage() {
        for cursor in [
            PageCursor::Offset(2500),
            PageCursor::AfterDevice {
                device_id: "sensor-\"7\"".into(),
                emitted: 1000,
            },
        ] {
            assert_eq!(
                decode_continuation(&encode_continuation(&cursor)).unwrap(),
                cursor
            );
        }
        for bad in [
            "x",
            "!!",
            &URL_SAFE_NO_PAD.encode("{\"offset\":-1}"),
            &URL_SAFE_NO_PAD.encode("{\"after\":\"a\"}"),
            &URL_SAFE_NO_PAD.encode("{\"after\":\"a\",\"emitted\":1,\"offset\":2}"),
        ] {
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

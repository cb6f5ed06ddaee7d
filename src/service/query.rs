//! Queries (`POST /devices/query`) as a stream of pages: each page repeats the query with
//! the previous page's `x-ms-continuation` token until the hub sends none.

use futures_util::Stream;
use futures_util::stream;
use reqwest::Method;
use serde_json::{Value, json};

use super::model::QueryPage;
use super::retry::Idempotency;
use super::transport::{Call, RequestBody, read_json};
use super::{ServiceClient, ServiceError};

const CONTINUATION: &str = "x-ms-continuation";
const MAX_ITEM_COUNT: &str = "x-ms-max-item-count";
const ITEM_TYPE: &str = "x-ms-item-type";

/// Where a query stands between pages.
enum Cursor {
    /// The first page is still to be asked for.
    Start,
    /// The next page is asked for with this token.
    Next(String),
    /// The last page has been delivered.
    Done,
}

impl ServiceClient {
    /// How many rows `query` returns, asked of the hub as `SELECT COUNT()` with the same
    /// `FROM ... WHERE` (and capped by its TOP), for progress displays; `None` for
    /// aggregates, for queries this client cannot read, and when the hub cannot say.
    pub async fn count_matching(&self, query: &str) -> Option<u64> {
        let row_count = crate::query::parse(query).ok()?.row_count()?;
        let pages = self.query(&row_count.query, Some(1));
        futures_util::pin_mut!(pages);
        let page = futures_util::StreamExt::next(&mut pages).await?.ok()?;
        page.rows
            .first()
            .and_then(|row| row.get("n"))
            .and_then(Value::as_u64)
            .map(|counted| row_count.rows(counted))
    }

    /// Runs an IoT Hub query (`SELECT * FROM devices WHERE ...`) and yields its pages in
    /// order. `page_size` is a hint sent as `x-ms-max-item-count` (hubs cap it; the local
    /// hub at 1000); `None` leaves the size to the hub. The stream ends after the page
    /// without a continuation token, or after the first error.
    pub fn query(
        &self,
        query_text: &str,
        page_size: Option<u32>,
    ) -> impl Stream<Item = Result<QueryPage, ServiceError>> + Send + 'static {
        let client = self.clone();
        let body = json!({ "query": query_text });
        stream::unfold(Cursor::Start, move |cursor| {
            let client = client.clone();
            let body = body.clone();
            async move {
                let continuation = match cursor {
                    Cursor::Start => None,
                    Cursor::Next(token) => Some(token),
                    Cursor::Done => return None,
                };
                match client.query_page(&body, page_size, continuation).await {
                    Ok(page) => {
                        let next = page.continuation.clone().map_or(Cursor::Done, Cursor::Next);
                        Some((Ok(page), next))
                    }
                    Err(error) => Some((Err(error), Cursor::Done)),
                }
            }
        })
    }

    async fn query_page(
        &self,
        body: &Value,
        page_size: Option<u32>,
        continuation: Option<String>,
    ) -> Result<QueryPage, ServiceError> {
        let operation = if continuation.is_some() {
            "reading the next page of a query"
        } else {
            "running a query"
        };
        let call = Call {
            operation: operation.to_owned(),
            method: Method::POST,
            path: "/devices/query".to_owned(),
            body: Some(RequestBody::Json(body)),
            headers: Vec::new(),
            // A query only reads.
            idempotency: Idempotency::Idempotent,
            timeout: None,
        };
        self.page(call, page_size, continuation).await
    }

    /// Sends `call` for one page of a paged answer (a query, the jobs list), with the
    /// page-size hint and the previous page's continuation token.
    pub(super) async fn page(
        &self,
        mut call: Call<'_>,
        page_size: Option<u32>,
        continuation: Option<String>,
    ) -> Result<QueryPage, ServiceError> {
        if let Some(size) = page_size {
            call.headers.push((MAX_ITEM_COUNT.into(), size.to_string()));
        }
        if let Some(token) = continuation {
            call.headers.push((CONTINUATION.into(), token));
        }
        let response = self.transport.send(&call).await?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        let item_type = header(ITEM_TYPE);
        let continuation = header(CONTINUATION);
        let rows = read_json(response, &call.operation, "JSON array of rows").await?;
        Ok(QueryPage {
            rows,
            item_type,
            continuation,
        })
    }
}

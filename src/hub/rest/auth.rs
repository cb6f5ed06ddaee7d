//! SAS authentication of service API calls: every request must carry an
//! `Authorization: SharedAccessSignature ...` header that the hub's access rules
//! ([`crate::hub::access`]) accept for the request's path.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::hub::state::HubState;

/// Middleware refusing requests without a valid service token (401, 401002).
pub async fn require_service_token(
    State(state): State<HubState>,
    request: Request,
    next: Next,
) -> Response {
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
    match state.auth.check(header, request.uri().path(), now) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

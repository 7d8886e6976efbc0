//! One error shape for every error the API gives: a code, a message, and details locating
//! each problem (field, file, row, column, line) where known.

use poem::http::StatusCode;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

use crate::app::compare::CompareError;
use crate::app::PlanError;
use crate::data::query::{QueryOutcome, QueryProblem};
use crate::data::DataError;
use crate::model::workforce::InputProblem;
use crate::rules::RuleProblem;
use crate::scenario::ScenarioProblem;

/// What went wrong.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ErrorBody {
    /// A stable, machine-readable code, for example `invalid_scenario` or `not_found`.
    pub code: String,
    /// What went wrong, in words.
    pub message: String,
    /// Each problem found, located as precisely as possible.
    pub details: Vec<ErrorDetail>,
}

/// One problem, with where it is.
#[derive(Debug, Clone, Default, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ErrorDetail {
    /// The request field or scenario field path, for example `interventions[0].start`.
    pub field: Option<String>,
    /// The file or upload the problem is in.
    pub file: Option<String>,
    /// Row of an uploaded table (the header is row 1).
    pub row: Option<u64>,
    /// Column of an uploaded table, or column within a rule script's line.
    pub column: Option<String>,
    /// Line of a rule script.
    pub line: Option<u64>,
    /// What is wrong there.
    pub message: String,
}

/// Every error response. Each operation lists them all: the same shape, told apart by
/// status and `code`.
#[derive(Debug, ApiResponse)]
#[oai(bad_request_handler = "bad_request")]
pub enum ApiError {
    /// The request could not be read: a malformed body, parameter or content type.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// No valid API key was given.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// The API key does not allow this operation.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// No such dataset, scenario, rule or run.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The request conflicts with the current state, for example a name already taken.
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// The request body is larger than the server accepts.
    #[oai(status = 413)]
    TooLarge(Json<ErrorBody>),
    /// The body's content type is missing or not one the operation takes.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// The request was read but its content is invalid: every problem is listed.
    #[oai(status = 422)]
    Invalid(Json<ErrorBody>),
    /// Too many runs are under way; try again shortly.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorBody>),
    /// The server failed; the request was not the cause.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// The server is too busy to take the request now; try again shortly.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

fn bad_request(error: poem::Error) -> ApiError {
    ApiError::make(
        error.status(),
        match error.status() {
            StatusCode::PAYLOAD_TOO_LARGE => "too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            _ => "bad_request",
        },
        error.to_string(),
        Vec::new(),
    )
}

impl ApiError {
    /// The error for a status, code and message.
    pub fn make(
        status: StatusCode,
        code: &str,
        message: impl Into<String>,
        details: Vec<ErrorDetail>,
    ) -> ApiError {
        let body = Json(ErrorBody {
            code: code.into(),
            message: message.into(),
            details,
        });
        match status.as_u16() {
            400 => ApiError::BadRequest(body),
            401 => ApiError::Unauthorized(body),
            403 => ApiError::Forbidden(body),
            404 => ApiError::NotFound(body),
            409 => ApiError::Conflict(body),
            413 => ApiError::TooLarge(body),
            415 => ApiError::UnsupportedMediaType(body),
            422 => ApiError::Invalid(body),
            429 => ApiError::TooManyRequests(body),
            503 => ApiError::Unavailable(body),
            // Anything else the request parsers report (such as 405) is a malformed request.
            s if (400..500).contains(&s) => ApiError::BadRequest(body),
            _ => ApiError::Internal(body),
        }
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        Self::make(StatusCode::NOT_FOUND, "not_found", message, Vec::new())
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        Self::make(StatusCode::CONFLICT, "conflict", message, Vec::new())
    }

    pub fn invalid(code: &str, message: impl Into<String>, details: Vec<ErrorDetail>) -> ApiError {
        Self::make(StatusCode::UNPROCESSABLE_ENTITY, code, message, details)
    }

    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        let message = message.into();
        Self::invalid(
            "invalid_request",
            format!("{field}: {message}"),
            vec![ErrorDetail {
                field: Some(field.into()),
                message,
                ..ErrorDetail::default()
            }],
        )
    }

    pub fn internal(message: impl std::fmt::Display) -> ApiError {
        tracing::error!("internal error: {message}");
        Self::make(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            message.to_string(),
            Vec::new(),
        )
    }

    pub fn body(&self) -> &ErrorBody {
        match self {
            ApiError::BadRequest(b)
            | ApiError::Unauthorized(b)
            | ApiError::Forbidden(b)
            | ApiError::NotFound(b)
            | ApiError::Conflict(b)
            | ApiError::TooLarge(b)
            | ApiError::UnsupportedMediaType(b)
            | ApiError::Invalid(b)
            | ApiError::TooManyRequests(b)
            | ApiError::Internal(b)
            | ApiError::Unavailable(b) => &b.0,
        }
    }
}

impl From<DataError> for ApiError {
    fn from(e: DataError) -> Self {
        match e {
            DataError::Invalid(problems) => {
                let details: Vec<ErrorDetail> = problems.0.iter().map(input_detail).collect();
                ApiError::invalid(
                    "invalid_data",
                    format!(
                        "{} problem(s) in the data; nothing was stored",
                        details.len()
                    ),
                    details,
                )
            }
            DataError::File { path, message } => ApiError::invalid(
                "invalid_data",
                format!("{path}: {message}"),
                vec![ErrorDetail {
                    file: Some(path),
                    message,
                    ..ErrorDetail::default()
                }],
            ),
            DataError::Database(e) => ApiError::internal(format!("database: {e}")),
        }
    }
}

impl From<PlanError> for ApiError {
    fn from(e: PlanError) -> Self {
        plan_error(e, "")
    }
}

/// A plan's problems as a 422, the message led by `prefix` (which side of a comparison).
fn plan_error(e: PlanError, prefix: &str) -> ApiError {
    match e {
        PlanError::Invalid(problems) => ApiError::invalid(
            "invalid_scenario",
            format!("{prefix}{} problem(s) in the scenario", problems.len()),
            problems.iter().map(scenario_detail).collect(),
        ),
        e @ PlanError::TooManyRuns { .. } => {
            ApiError::invalid("too_many_runs", format!("{prefix}{e}"), Vec::new())
        }
        e @ PlanError::TooManyRows { .. } => {
            ApiError::invalid("too_many_rows", format!("{prefix}{e}"), Vec::new())
        }
    }
}

impl From<CompareError> for ApiError {
    fn from(e: CompareError) -> Self {
        match e {
            CompareError::Plan { side, error } => plan_error(error, &format!("{side}: ")),
            CompareError::NoRun { ref side, .. } | CompareError::NotSucceeded { ref side, .. } => {
                ApiError::field(side, e.to_string())
            }
            CompareError::RunFailed { .. } => {
                ApiError::invalid("run_failed", e.to_string(), Vec::new())
            }
            CompareError::NotComparable(message) => {
                ApiError::invalid("not_comparable", message, Vec::new())
            }
            CompareError::Data(e) => e.into(),
            CompareError::Threads(e) => ApiError::internal(e),
        }
    }
}

impl From<QueryOutcome> for ApiError {
    fn from(e: QueryOutcome) -> Self {
        match e {
            QueryOutcome::Problem(QueryProblem { parameter, message }) => {
                ApiError::field(&parameter, message)
            }
            QueryOutcome::Data(e) => e.into(),
        }
    }
}

pub fn input_detail(p: &InputProblem) -> ErrorDetail {
    ErrorDetail {
        file: Some(p.source.clone()),
        row: p.row.map(|r| r as u64),
        column: p.column.clone(),
        message: p.message.clone(),
        ..ErrorDetail::default()
    }
}

pub fn scenario_detail(p: &ScenarioProblem) -> ErrorDetail {
    ErrorDetail {
        // Problems with the request as a whole (its level of detail, say) have no file.
        file: (p.file != crate::app::plan::REQUEST).then(|| p.file.clone()),
        field: (!p.field.is_empty()).then(|| p.field.clone()),
        message: p.message.clone(),
        ..ErrorDetail::default()
    }
}

pub fn rule_detail(p: &RuleProblem) -> ErrorDetail {
    ErrorDetail {
        file: Some(p.file.clone()),
        line: p.line.map(|l| l as u64),
        column: p.column.map(|c| c.to_string()),
        message: p.message.clone(),
        ..ErrorDetail::default()
    }
}

/// Scenario problems as a 422.
pub fn invalid_scenario(problems: &[ScenarioProblem]) -> ApiError {
    plan_error(PlanError::Invalid(problems.to_vec()), "")
}

/// Turns errors that arise outside the operations (unknown path, wrong method, body too
/// large, missing key) into the same JSON shape.
pub fn json_error(error: poem::Error) -> poem::Response {
    use poem::IntoResponse;
    // Errors from the operations already carry their JSON response.
    if error.is_from_response() {
        return error.into_response();
    }
    let status = error.status();
    let code = match status.as_u16() {
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        413 => "too_large",
        415 => "unsupported_media_type",
        s if s >= 500 => "internal",
        _ => "bad_request",
    };
    let body = ErrorBody {
        code: code.into(),
        message: error.to_string(),
        details: Vec::new(),
    };
    Json(body).with_status(status).into_response()
}

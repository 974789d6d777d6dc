//! The route table: every route of the API once, with its handler and its description.
//!
//! Each resource module lists its routes (`routes()`); the router (`super::router`) and the
//! OpenAPI document (`super::openapi`) are both built from that one list, so a route cannot
//! be served undescribed nor described unserved. A row reads:
//!
//! ```text
//! get("/api/projects/{id}", read)
//!     .doc("projects_read", "Read a project")
//!     .ok::<ProjectView>("The project"),
//! ```
//!
//! Every row that is not `.public()` states the least role it takes, once:
//! `.needs(Role::Manager)` (roles are ordered, owner first; see `shared::Role`). The router
//! checks it after authentication (403 naming the role), the document says it, and a unit
//! test fails on a row without one.
//!
//! The error statuses follow from the row: 401 and 403 unless `.public()`, 404 when the path names
//! an object (or `.may_be_missing()`), 400 with a body or a checked query, 413 with a body.
//! Path parameters are described from the path (`/api/tasks/{id}` → "The task's id.").

use axum::handler::Handler;
use axum::routing::{self, MethodRouter};
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn,
};
use utoipa::openapi::request_body::{RequestBody, RequestBodyBuilder};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{
    ContentBuilder, KnownFormat, Ref, RefOr, Required, Response, ResponseBuilder, SchemaFormat,
};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use crate::shared::Role;

/// Schemas a route refers to, by component name.
pub(super) type Schemas = Vec<(String, RefOr<Schema>)>;

/// One route: its method(s), path, handler and description.
pub(super) struct Route {
    pub methods: &'static [HttpMethod],
    pub path: &'static str,
    pub handler: MethodRouter<AppState>,
    pub doc: Doc,
}

impl Doc {
    /// The operation's id in the document.
    #[cfg(test)]
    pub fn operation_id(&self) -> &'static str {
        self.operation_id
    }
}

impl Route {
    /// The least role this route takes (`None`: public, or not stated, which the tests
    /// refuse).
    pub fn role(&self) -> Option<Role> {
        self.doc.needs
    }
}

/// What the OpenAPI document says about a route.
#[derive(Default)]
pub(super) struct Doc {
    operation_id: &'static str,
    summary: &'static str,
    description: Option<&'static str>,
    tag: &'static str,
    pub public: bool,
    query: Vec<Parameter>,
    checks_query: bool,
    body: Option<RequestBody>,
    success: Option<(&'static str, Response)>,
    /// 410 when what was asked for is gone (`.gone()`).
    gone: bool,
    may_be_missing: bool,
    needs: Option<Role>,
    pub schemas: Schemas,
}

pub(super) fn get<H: Handler<T, AppState>, T: 'static>(path: &'static str, handler: H) -> Route {
    Route::new(&[HttpMethod::Get], path, routing::get(handler))
}

pub(super) fn post<H: Handler<T, AppState>, T: 'static>(path: &'static str, handler: H) -> Route {
    Route::new(&[HttpMethod::Post], path, routing::post(handler))
}

pub(super) fn delete<H: Handler<T, AppState>, T: 'static>(path: &'static str, handler: H) -> Route {
    Route::new(&[HttpMethod::Delete], path, routing::delete(handler))
}

/// PATCH, and PUT with the same handler: Label Studio's clients send either, and only the
/// keys sent change. The document describes PUT as a copy of PATCH.
pub(super) fn patch_or_put<H: Handler<T, AppState> + Clone, T: 'static>(
    path: &'static str,
    handler: H,
) -> Route {
    let handler = routing::patch(handler.clone()).put(handler);
    Route::new(&[HttpMethod::Patch, HttpMethod::Put], path, handler)
}

/// Gives every route of `routes` the tag `tag` (the document's section).
pub(super) fn tagged(tag: &'static str, routes: impl IntoIterator<Item = Route>) -> Vec<Route> {
    routes
        .into_iter()
        .map(|mut route| {
            route.doc.tag = tag;
            route
        })
        .collect()
}

impl Route {
    fn new(
        methods: &'static [HttpMethod],
        path: &'static str,
        handler: MethodRouter<AppState>,
    ) -> Route {
        Route {
            methods,
            path,
            handler,
            doc: Doc::default(),
        }
    }

    /// The operation's id (unique in the document) and its one-line summary.
    pub fn doc(mut self, operation_id: &'static str, summary: &'static str) -> Route {
        self.doc.operation_id = operation_id;
        self.doc.summary = summary;
        self
    }

    pub fn about(mut self, description: &'static str) -> Route {
        self.doc.description = Some(description);
        self
    }

    /// The least role this route takes.
    pub fn needs(mut self, role: Role) -> Route {
        self.doc.needs = Some(role);
        self
    }

    /// Answers without a token.
    pub fn public(mut self) -> Route {
        self.doc.public = true;
        self
    }

    /// Query parameters the handler reads and may reject (400).
    pub fn query<Q: IntoParams>(mut self) -> Route {
        self.doc.checks_query = true;
        self.params::<Q>()
    }

    fn params<Q: IntoParams>(mut self) -> Route {
        self.doc
            .query
            .extend(Q::into_params(|| Some(ParameterIn::Query)));
        self
    }

    /// An optional id in the query that clients send and the handler does not read.
    pub fn ignores_id_param(mut self, name: &'static str, description: &'static str) -> Route {
        self.doc.query.push(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(description))
                .schema(Some(integer()))
                .build(),
        );
        self
    }

    /// A JSON request body of type `B`.
    pub fn json<B: ToSchema>(self, description: &'static str) -> Route {
        let schema = self.named::<B>();
        self.body(description, [("application/json", schema.0)], schema.1)
    }

    /// The request body may be left out (after `.json`).
    pub fn body_optional(mut self) -> Route {
        if let Some(body) = self.doc.body.as_mut() {
            body.required = Some(Required::False);
        }
        self
    }

    /// A request body in several forms (content type → schema).
    pub fn body<const N: usize>(
        mut self,
        description: &'static str,
        forms: [(&'static str, RefOr<Schema>); N],
        schemas: Schemas,
    ) -> Route {
        let mut body = RequestBodyBuilder::new()
            .description(Some(description))
            .required(Some(Required::True));
        for (content_type, schema) in forms {
            body = body.content(
                content_type,
                ContentBuilder::new().schema(Some(schema)).build(),
            );
        }
        self.doc.body = Some(body.build());
        self.doc.schemas.extend(schemas);
        self
    }

    /// 200 with a `T`.
    pub fn ok<T: ToSchema>(self, description: &'static str) -> Route {
        self.answers::<T>("200", description)
    }

    /// 201 with a `T`.
    pub fn created<T: ToSchema>(self, description: &'static str) -> Route {
        self.answers::<T>("201", description)
    }

    /// 202 with a `T`.
    pub fn accepted<T: ToSchema>(self, description: &'static str) -> Route {
        self.answers::<T>("202", description)
    }

    /// 200 with a list of `T`.
    pub fn ok_list<T: ToSchema>(self, description: &'static str) -> Route {
        let (item, schemas) = self.named::<T>();
        let list = ArrayBuilder::new().items(item).build();
        self.success("200", description, "application/json", list.into(), schemas)
    }

    /// 200 with a page of `T` (`pagination::Envelope`), described as the schema `name`.
    pub fn ok_page<T: ToSchema>(self, name: &'static str, description: &'static str) -> Route {
        let (item, mut schemas) = self.named::<T>();
        let link = |what: &str| {
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                .description(Some(what))
        };
        let page = ObjectBuilder::new()
            .property("count", integer())
            .property(
                "next",
                link("The URL of the next page, or `null` on the last."),
            )
            .property(
                "previous",
                link("The URL of the previous page, or `null` on the first."),
            )
            .property("results", ArrayBuilder::new().items(item))
            .required("count")
            .required("next")
            .required("previous")
            .required("results")
            .description(Some("Django REST framework's page envelope."))
            .build();
        schemas.push((name.to_string(), page.into()));
        let reference = RefOr::Ref(Ref::from_schema_name(name));
        self.success("200", description, "application/json", reference, schemas)
    }

    /// 200 with a body of another content type (text, a free-form document).
    pub fn ok_content(
        self,
        description: &'static str,
        content_type: &'static str,
        schema: ObjectBuilder,
    ) -> Route {
        let schema = schema.into();
        self.success("200", description, content_type, schema, Vec::new())
    }

    /// 204 without a body.
    pub fn no_content(mut self, description: &'static str) -> Route {
        self.doc.success = Some((
            "204",
            ResponseBuilder::new().description(description).build(),
        ));
        self
    }

    /// 410: what was asked for is no longer kept (the event stream past retention).
    pub fn gone(mut self) -> Route {
        self.doc.gone = true;
        self
    }

    /// 404 although the path names no object (an id in the body or the query).
    pub fn may_be_missing(mut self) -> Route {
        self.doc.may_be_missing = true;
        self
    }

    fn answers<T: ToSchema>(self, status: &'static str, description: &'static str) -> Route {
        let (schema, schemas) = self.named::<T>();
        self.success(status, description, "application/json", schema, schemas)
    }

    fn success(
        mut self,
        status: &'static str,
        description: &'static str,
        content_type: &'static str,
        schema: RefOr<Schema>,
        schemas: Schemas,
    ) -> Route {
        let response = ResponseBuilder::new()
            .description(description)
            .content(
                content_type,
                ContentBuilder::new().schema(Some(schema)).build(),
            )
            .build();
        self.doc.success = Some((status, response));
        self.doc.schemas.extend(schemas);
        self
    }

    /// A reference to `T`'s schema, and the schemas to add for it.
    fn named<T: ToSchema>(&self) -> (RefOr<Schema>, Schemas) {
        named::<T>()
    }
}

/// A reference to `T`'s schema, and the schemas to add for it (`T`'s and those it refers to).
pub(super) fn named<T: ToSchema>() -> (RefOr<Schema>, Schemas) {
    let mut schemas = vec![(T::name().into_owned(), T::schema())];
    T::schemas(&mut schemas);
    (RefOr::Ref(Ref::from_schema_name(T::name())), schemas)
}

impl Doc {
    /// The operations of this route for the document, one per method.
    pub fn operations(&self, path: &str, methods: &[HttpMethod]) -> Vec<(HttpMethod, Operation)> {
        let description = match (self.needs, self.description) {
            (Some(role), text) => Some(format!(
                "{}Needs the {} role{}.",
                text.map(|t| format!("{t} ")).unwrap_or_default(),
                role.name(),
                if role == Role::Owner {
                    ""
                } else {
                    " or higher"
                }
            )),
            (None, text) => text.map(str::to_string),
        };
        let mut operation = OperationBuilder::new()
            .tag(self.tag)
            .summary(Some(self.summary))
            .description(description)
            .operation_id(Some(self.operation_id));
        for name in path_ids(path) {
            operation = operation.parameter(path_parameter(path, name));
        }
        for parameter in &self.query {
            operation = operation.parameter(parameter.clone());
        }
        operation = operation.request_body(self.body.clone());
        if let Some((status, response)) = &self.success {
            operation = operation.response(*status, response.clone());
        }
        let error = |name: &str| RefOr::Ref(Ref::from_response_name(name));
        if self.body.is_some() || self.checks_query {
            operation = operation.response("400", error("BadRequest"));
        }
        if !self.public {
            operation = operation
                .response("401", error("Unauthorized"))
                .response("403", error("Forbidden"))
                .response("429", error("Throttled"))
                .security(SecurityRequirement::new("token", Vec::<String>::new()));
        }
        if self.may_be_missing || path.contains('{') {
            operation = operation.response("404", error("NotFound"));
        }
        if self.body.is_some() {
            operation = operation.response("413", error("PayloadTooLarge"));
        }
        if self.gone {
            operation = operation.response("410", error("Gone"));
        }
        // A change the database cannot take (full, read-only, failing).
        if methods
            .iter()
            .any(|method| !matches!(method, HttpMethod::Get))
        {
            operation = operation.response("503", error("Unavailable"));
        }
        let operation = operation.build();
        methods
            .iter()
            .map(|method| match method {
                HttpMethod::Put => (method.clone(), as_put(operation.clone())),
                _ => (method.clone(), operation.clone()),
            })
            .collect()
    }
}

/// PUT described as a copy of PATCH.
fn as_put(mut operation: Operation) -> Operation {
    operation.operation_id = operation
        .operation_id
        .map(|id| id.replace("_update", "_replace"));
    operation.summary = operation
        .summary
        .map(|s| format!("{s} (PUT: same as PATCH)"));
    operation
}

/// The `{name}` parameters of a path, in order.
fn path_ids(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
}

/// `/api/webhooks/{id}/deliveries/{delivery_id}`: `id` is "The webhook's id.", `delivery_id`
/// "The delivery's id." (the segment before each names the object).
fn path_parameter(path: &str, name: &str) -> Parameter {
    let placeholder = format!("{{{name}}}");
    let segments: Vec<&str> = path.split('/').collect();
    let object = segments
        .iter()
        .position(|s| *s == placeholder)
        .and_then(|at| at.checked_sub(1))
        .map_or("object", |before| singular(segments[before]));
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(format!("The {object}'s id.")))
        .schema(Some(integer()))
        .example(Some(serde_json::json!(1)))
        .build()
}

fn integer() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
}

fn singular(collection: &str) -> &str {
    match collection {
        "ml" => "ML backend",
        "deliveries" => "delivery",
        other => other.strip_suffix('s').unwrap_or(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_parameters_are_named_after_their_collection() {
        let path = "/api/webhooks/{id}/deliveries/{delivery_id}/redeliver";
        let names: Vec<&str> = path_ids(path).collect();
        assert_eq!(names, ["id", "delivery_id"]);
        let described = |name| path_parameter(path, name).description.unwrap_or_default();
        assert_eq!(described("id"), "The webhook's id.");
        assert_eq!(described("delivery_id"), "The delivery's id.");
        let ml = path_parameter("/api/ml/{id}/train", "id");
        assert_eq!(ml.description.as_deref(), Some("The ML backend's id."));
    }
}

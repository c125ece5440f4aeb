//! The building blocks of every route table: an actix resource whose unsupported methods answer
//! a JSON 405, and [`Routes`], the list of `(method, path, handler)` each surface fills in.
//! They sit below the surfaces so that `routes` (which mounts the surfaces) is the only module
//! that knows them all.
//!
//! The table is data before it is mounted, so the OpenAPI document can be checked against the
//! routes the app really serves (`openapi::tests`): a route without an operation in the spec, or
//! an operation without a route, fails the build's tests.

use actix_web::http::Method;
use actix_web::{web, FromRequest, Handler, HttpResponse, Responder, Route};

use crate::error::ApiError;

/// A resource at `path` whose unsupported methods answer a JSON 405.
#[must_use]
pub fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}

/// One route of the table.
struct Entry {
    method: Method,
    path: &'static str,
    route: Route,
}

/// Routes in registration order; [`Routes::mount`] groups them into one resource per path.
#[derive(Default)]
pub struct Routes {
    entries: Vec<Entry>,
}

impl Routes {
    /// An empty table.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `method path` answered by `handler`.
    pub fn add<F, Args>(&mut self, method: Method, path: &'static str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let route = web::method(method.clone()).to(handler);
        self.entries.push(Entry {
            method,
            path,
            route,
        });
        self
    }

    /// Adds `GET path`.
    pub fn get<F, Args>(&mut self, path: &'static str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(Method::GET, path, handler)
    }

    /// Adds `POST path`.
    pub fn post<F, Args>(&mut self, path: &'static str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(Method::POST, path, handler)
    }

    /// Adds `PUT path`.
    pub fn put<F, Args>(&mut self, path: &'static str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(Method::PUT, path, handler)
    }

    /// Adds `PATCH path`.
    pub fn patch<F, Args>(&mut self, path: &'static str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(Method::PATCH, path, handler)
    }

    /// Adds `DELETE path`.
    pub fn delete<F, Args>(&mut self, path: &'static str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(Method::DELETE, path, handler)
    }

    /// Every `(method, path)` of the table, in registration order.
    pub fn operations(&self) -> impl Iterator<Item = (&Method, &'static str)> {
        self.entries.iter().map(|e| (&e.method, e.path))
    }

    /// Registers the table on `cfg`: one [`resource`] per path (first-seen order), holding every
    /// method added for it.
    pub fn mount(self, cfg: &mut web::ServiceConfig) {
        let mut paths: Vec<(&'static str, Vec<Route>)> = Vec::new();
        for e in self.entries {
            match paths.iter_mut().find(|(p, _)| *p == e.path) {
                Some((_, routes)) => routes.push(e.route),
                None => paths.push((e.path, vec![e.route])),
            }
        }
        for (path, routes) in paths {
            let res = routes
                .into_iter()
                .fold(resource(path), |res, r| res.route(r));
            cfg.service(res);
        }
    }
}

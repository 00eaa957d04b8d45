//! HTTP plumbing shared by every domain: extractors that produce our error shape,
//! pagination, request metadata.

pub mod csv_file;
pub mod download;
pub mod extract;
pub mod limits;
pub mod pagination;
pub mod zip;

pub use extract::{ApiJson, ApiMultipart, ApiPath, ApiQuery, Form, RequestMeta};
pub use pagination::{ListParams, Page, PageParams};

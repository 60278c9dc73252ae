//! zipper: a streaming zip proxy.
//!
//! A request's life: [`server`] accepts `GET /{key_id}/{callback}/{signature}/{filename}`; [`core::link`]
//! checks the link; [`origin::manifest`] fetches the manifest, which [`core::manifest`] validates into entries;
//! [`core::layout`] plans the archive (exact length, offsets, ZIP64 choices); [`origin::files`] fetches the
//! files ahead of the writer; [`core::encoder`] turns the plan and file bytes into archive bytes, which
//! [`server`] streams to the client, aborting the response if the archive cannot be finished correctly;
//! when it has ended, [`report`] tells the manifest's `notify_url` how it went.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod budget;
pub mod cli;
pub mod config;
pub mod core;
pub mod crc_cache;
pub mod demo;
pub mod error;
pub mod manifest_cache;
pub mod metrics;
pub mod origin;
pub mod prefetch;
pub mod report;
pub mod request_id;
pub mod server;
pub mod shared_cache;
pub mod zipstream;

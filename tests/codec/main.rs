//! Feature `tokio`: the tokio-util codecs and the async stream copy, against the sync parsers
//! and writers on the real files of `testdata/real/` and on generated input, on tokio's test
//! runtime. Every test name says "tokio".

mod codecs;
mod copy;
mod follow;

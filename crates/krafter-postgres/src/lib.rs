#![doc = include_str!("../README.md")]

pub mod local_cluster;

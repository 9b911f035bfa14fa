#![doc = include_str!("../README.md")]

pub mod links;
pub mod mail;
pub mod ssrf;
pub mod webhook;

//! Launches a private PostgreSQL cluster from the installed server binaries.

//! Assessment rules shared by the JSON and HTML adapters.

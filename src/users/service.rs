//! The rules of staff and platform accounts: validate, write, audit.

//! Where a visitor is: the MaxMind database and the client address behind trusted proxies.

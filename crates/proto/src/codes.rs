//! The stable error codes of the control-plane API: the `code` member of every
//! [`Problem`](crate::Problem). Clients branch on the code; the `detail` is for people.
//! A code is never renamed or reused for something else; new ones may be added.

/// One stable error code and the HTTP status it always comes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    // 400: the request could not be read.
    /// The body is not JSON, or a member has the wrong type or is missing.
    InvalidJson,
    /// The body has a member the endpoint does not know.
    UnknownField,
    /// A query parameter is unknown, repeated or malformed.
    BadQuery,
    // 401, 403, 404.
    /// No credentials, or a session or token that is unknown, expired or revoked.
    Unauthenticated,
    /// The caller's role does not allow this.
    Forbidden,
    /// An installer (or the person who filed it) may not decide its own request.
    OwnRequest,
    /// Open sign-up is switched off on this deployment.
    SignupClosed,
    /// No such thing — or the caller may not know it exists.
    NotFound,
    /// No such endpoint.
    NoSuchEndpoint,
    /// The method is not one this endpoint takes.
    MethodNotAllowed,
    // 409: the thing is not in a state that allows this.
    /// The request or claim was decided already.
    AlreadyDecided,
    /// It was revoked already.
    AlreadyRevoked,
    /// A unique value is taken (an email, a door id, an organisation's key).
    Duplicate,
    /// Something changed meanwhile (a stale `expected_seq`); read again and retry.
    StaleState,
    /// The property's claim is not verified yet (or was rejected).
    PropertyNotVerified,
    /// The authorization is revoked or expired.
    AuthorizationInactive,
    /// The owner switched service off for this property, door or carrier.
    ServiceDisabled,
    /// The carrier has no key the server holds (register one with `custodial: true`), or no
    /// key at all.
    NoCarrierKey,
    /// The setup is done already.
    SetupDone,
    /// The invitation was used, or expired.
    InvitationClosed,
    /// The thing is still in use (a door with an open request, a unit with residents).
    InUse,
    /// A store limit (photos per request, revocations per list).
    LimitReached,
    /// The installation request is not approved (or its consent was revoked).
    NotApproved,
    /// The entry is not covered by a checkpoint of the public log yet: retry in a second.
    NotYetLogged,
    /// No activated device serves this door.
    NoDevice,
    // 413, 415.
    /// The body is over the endpoint's limit (1 MiB for JSON, 10 MB for a photo).
    BodyTooLarge,
    /// The `Content-Type` is not one the endpoint takes (or does not match the bytes).
    UnsupportedMediaType,
    // 422: a value is invalid.
    /// A value is invalid (the detail names the member and why).
    InvalidField,
    /// An identifier is not 1 to 64 of `A-Z a-z 0-9 . _ : @ # / -` and inner spaces.
    BadId,
    /// Not an email address.
    BadEmail,
    /// The password is too short or too long.
    WeakPassword,
    /// Not an IANA time zone.
    BadTimeZone,
    /// Not a weekly schedule.
    BadSchedule,
    /// Not an address (empty, too long).
    BadAddress,
    /// Not an `ed25519/<hex>` key (or a weak one).
    BadKey,
    /// A validity window is empty, backwards or too long.
    BadWindow,
    /// A reason is not a code of `[a-z0-9_]`, 1 to 64 long.
    BadReason,
    /// An uploaded token does not verify under the property key, or is not a token.
    BadToken,
    /// An uploaded token verifies but says something other than the request.
    TokenMismatch,
    /// The property is self-custody: the server cannot sign; upload the token signed offline.
    SignatureRequired,
    /// A door, unit, carrier or driver named in the request is not the property's (or the
    /// carrier's).
    UnknownReference,
    // 429.
    /// Sign-in failed too often for this address; wait `Retry-After` seconds.
    TooManyAttempts,
    /// Sign-in is locked for this address for a while after repeated failures.
    LockedOut,
    // 5xx.
    /// The server failed; the detail says nothing more (the server's log has it).
    Internal,
    /// The server is starting or stopping, or a dependency is down.
    Unavailable,
    /// The door's device is not connected: present the pass at the door itself.
    DeviceOffline,
    /// The door's device did not answer in time; the attempt may still be decided (and
    /// logged) by the device.
    DeviceTimeout,
}

impl Code {
    /// Every code, in documentation order.
    pub const ALL: [Code; 47] = [
        Code::InvalidJson,
        Code::UnknownField,
        Code::BadQuery,
        Code::Unauthenticated,
        Code::Forbidden,
        Code::OwnRequest,
        Code::SignupClosed,
        Code::NotFound,
        Code::NoSuchEndpoint,
        Code::MethodNotAllowed,
        Code::AlreadyDecided,
        Code::AlreadyRevoked,
        Code::Duplicate,
        Code::StaleState,
        Code::PropertyNotVerified,
        Code::AuthorizationInactive,
        Code::ServiceDisabled,
        Code::NoCarrierKey,
        Code::SetupDone,
        Code::InvitationClosed,
        Code::InUse,
        Code::LimitReached,
        Code::NotApproved,
        Code::NotYetLogged,
        Code::NoDevice,
        Code::BodyTooLarge,
        Code::UnsupportedMediaType,
        Code::InvalidField,
        Code::BadId,
        Code::BadEmail,
        Code::WeakPassword,
        Code::BadTimeZone,
        Code::BadSchedule,
        Code::BadAddress,
        Code::BadKey,
        Code::BadWindow,
        Code::BadReason,
        Code::BadToken,
        Code::TokenMismatch,
        Code::SignatureRequired,
        Code::UnknownReference,
        Code::TooManyAttempts,
        Code::LockedOut,
        Code::Internal,
        Code::Unavailable,
        Code::DeviceOffline,
        Code::DeviceTimeout,
    ];

    /// The wire value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Code::InvalidJson => "invalid_json",
            Code::UnknownField => "unknown_field",
            Code::BadQuery => "bad_query",
            Code::Unauthenticated => "unauthenticated",
            Code::Forbidden => "forbidden",
            Code::OwnRequest => "own_request",
            Code::SignupClosed => "signup_closed",
            Code::NotFound => "not_found",
            Code::NoSuchEndpoint => "no_such_endpoint",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::AlreadyDecided => "already_decided",
            Code::AlreadyRevoked => "already_revoked",
            Code::Duplicate => "duplicate",
            Code::StaleState => "stale_state",
            Code::PropertyNotVerified => "property_not_verified",
            Code::AuthorizationInactive => "authorization_inactive",
            Code::ServiceDisabled => "service_disabled",
            Code::NoCarrierKey => "no_carrier_key",
            Code::SetupDone => "setup_done",
            Code::InvitationClosed => "invitation_closed",
            Code::InUse => "in_use",
            Code::LimitReached => "limit_reached",
            Code::NotApproved => "not_approved",
            Code::NotYetLogged => "not_yet_logged",
            Code::NoDevice => "no_device",
            Code::BodyTooLarge => "body_too_large",
            Code::UnsupportedMediaType => "unsupported_media_type",
            Code::InvalidField => "invalid_field",
            Code::BadId => "bad_id",
            Code::BadEmail => "bad_email",
            Code::WeakPassword => "weak_password",
            Code::BadTimeZone => "bad_time_zone",
            Code::BadSchedule => "bad_schedule",
            Code::BadAddress => "bad_address",
            Code::BadKey => "bad_key",
            Code::BadWindow => "bad_window",
            Code::BadReason => "bad_reason",
            Code::BadToken => "bad_token",
            Code::TokenMismatch => "token_mismatch",
            Code::SignatureRequired => "signature_required",
            Code::UnknownReference => "unknown_reference",
            Code::TooManyAttempts => "too_many_attempts",
            Code::LockedOut => "locked_out",
            Code::Internal => "internal",
            Code::Unavailable => "unavailable",
            Code::DeviceOffline => "device_offline",
            Code::DeviceTimeout => "device_timeout",
        }
    }

    /// The HTTP status that always comes with it.
    pub const fn status(self) -> u16 {
        match self {
            Code::InvalidJson | Code::UnknownField | Code::BadQuery => 400,
            Code::Unauthenticated => 401,
            Code::Forbidden | Code::OwnRequest | Code::SignupClosed => 403,
            Code::NotFound | Code::NoSuchEndpoint => 404,
            Code::MethodNotAllowed => 405,
            Code::AlreadyDecided
            | Code::AlreadyRevoked
            | Code::Duplicate
            | Code::StaleState
            | Code::PropertyNotVerified
            | Code::AuthorizationInactive
            | Code::ServiceDisabled
            | Code::NoCarrierKey
            | Code::SetupDone
            | Code::InvitationClosed
            | Code::InUse
            | Code::LimitReached
            | Code::NotApproved
            | Code::NotYetLogged
            | Code::NoDevice => 409,
            Code::BodyTooLarge => 413,
            Code::UnsupportedMediaType => 415,
            Code::InvalidField
            | Code::BadId
            | Code::BadEmail
            | Code::WeakPassword
            | Code::BadTimeZone
            | Code::BadSchedule
            | Code::BadAddress
            | Code::BadKey
            | Code::BadWindow
            | Code::BadReason
            | Code::BadToken
            | Code::TokenMismatch
            | Code::SignatureRequired
            | Code::UnknownReference => 422,
            Code::TooManyAttempts | Code::LockedOut => 429,
            Code::Internal => 500,
            Code::Unavailable | Code::DeviceOffline => 503,
            Code::DeviceTimeout => 504,
        }
    }

    /// The code a wire value names.
    pub fn parse(s: &str) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "{c} twice");
            assert_eq!(Code::parse(c.as_str()), Some(c));
            assert!((400..600).contains(&c.status()));
        }
    }
}

//! Authenticator types and what each may do, as one table.
//!
//! Every rule that depends on the type (its scope, how it is registered,
//! whether a lockout policy applies, whether an admin may lock, unlock or
//! delete it) is read from [`TypeInfo`] rows in [`TYPES`]; no other module
//! matches on the type to decide a capability. Adding a type is one row.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The kinds of authenticator authlock knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum AuthenticatorType {
    /// A password (app-user).
    Password = 0,
    /// A mobile PIN code (device-user).
    Pin = 1,
    /// A WebAuthn passkey (device-user).
    Passkey = 2,
    /// Mobile biometrics: fingerprint or face unlock on the device (device-user).
    MobileBiometrics = 3,
    /// Server-side face authentication (app-user).
    FaceAuthentication = 4,
    /// A time-based one-time password app (app-user).
    Totp = 5,
    /// A one-time code sent to the profile's email (global-user).
    EmailOtp = 6,
    /// A one-time code sent by SMS to the profile's phone (global-user).
    SmsOtp = 7,
    /// A one-time code the host delivers through its own channel to the
    /// profile's phone number (global-user).
    DirectOtp = 8,
    /// A sign-in link sent to the profile's email (global-user).
    EmailMagicLink = 9,
    /// Sign-in with a social provider account (global-user).
    SocialLogin = 10,
    /// Sign-in through an OpenID Connect provider (global-user).
    Oidc = 11,
    /// Sign-in through a SAML identity provider (global-user).
    Saml = 12,
}

/// How far an authenticator's state reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// One state per user, shared by every app of the tenant.
    GlobalUser,
    /// One instance per user per app, under one ID.
    AppUser,
    /// One instance, with its own ID, per (device, app).
    DeviceUser,
}

/// How an authenticator comes to be registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationMode {
    /// The host registers it with [`Engine::register`](crate::Engine::register).
    Explicit,
    /// Registered when the profile gains an email address.
    ImplicitWithEmail,
    /// Registered when the profile gains a phone number.
    ImplicitWithPhone,
    /// Registered on the first successful use.
    ImplicitOnFirstUse,
}

/// One row of the capability table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypeInfo {
    /// The type this row describes.
    pub kind: AuthenticatorType,
    /// The name used in documents, errors and bindings.
    pub name: &'static str,
    /// Its scope.
    pub scope: Scope,
    /// How it is registered.
    pub registration: RegistrationMode,
    /// Whether a lockout policy counts its failures.
    pub policy_lockout: bool,
    /// Whether an admin, journey or helpdesk may lock it by hand.
    pub manual_lock: bool,
    /// Whether an admin, journey or helpdesk may unlock it by hand.
    pub manual_unlock: bool,
    /// Whether it may be deleted.
    pub delete: bool,
}

/// The capability table, indexed by `AuthenticatorType as usize`.
pub const TYPES: [TypeInfo; 13] = {
    use AuthenticatorType as T;
    use RegistrationMode as R;
    use Scope as S;
    const fn row(
        kind: T,
        name: &'static str,
        scope: S,
        registration: R,
        policy_lockout: bool,
        manual: bool,
        delete: bool,
    ) -> TypeInfo {
        TypeInfo {
            kind,
            name,
            scope,
            registration,
            policy_lockout,
            manual_lock: manual,
            manual_unlock: manual,
            delete,
        }
    }
    [
        row(
            T::Password,
            "password",
            S::AppUser,
            R::Explicit,
            true,
            true,
            true,
        ),
        row(T::Pin, "pin", S::DeviceUser, R::Explicit, true, true, true),
        row(
            T::Passkey,
            "passkey",
            S::DeviceUser,
            R::Explicit,
            true,
            true,
            true,
        ),
        row(
            T::MobileBiometrics,
            "mobile_biometrics",
            S::DeviceUser,
            R::Explicit,
            true,
            true,
            true,
        ),
        row(
            T::FaceAuthentication,
            "face_authentication",
            S::AppUser,
            R::Explicit,
            true,
            true,
            true,
        ),
        row(T::Totp, "totp", S::AppUser, R::Explicit, true, false, true),
        row(
            T::EmailOtp,
            "email_otp",
            S::GlobalUser,
            R::ImplicitWithEmail,
            true,
            false,
            false,
        ),
        row(
            T::SmsOtp,
            "sms_otp",
            S::GlobalUser,
            R::ImplicitWithPhone,
            true,
            false,
            false,
        ),
        row(
            T::DirectOtp,
            "direct_otp",
            S::GlobalUser,
            R::ImplicitWithPhone,
            true,
            false,
            false,
        ),
        row(
            T::EmailMagicLink,
            "email_magic_link",
            S::GlobalUser,
            R::ImplicitWithEmail,
            false,
            false,
            false,
        ),
        row(
            T::SocialLogin,
            "social_login",
            S::GlobalUser,
            R::ImplicitOnFirstUse,
            false,
            false,
            false,
        ),
        row(
            T::Oidc,
            "oidc",
            S::GlobalUser,
            R::ImplicitOnFirstUse,
            false,
            false,
            false,
        ),
        row(
            T::Saml,
            "saml",
            S::GlobalUser,
            R::ImplicitOnFirstUse,
            false,
            false,
            false,
        ),
    ]
};

impl AuthenticatorType {
    /// Every type, in table order.
    pub const ALL: [AuthenticatorType; 13] = {
        let mut all = [AuthenticatorType::Password; 13];
        let mut i = 0;
        while i < 13 {
            all[i] = TYPES[i].kind;
            i += 1;
        }
        all
    };

    /// This type's row in the capability table.
    pub const fn info(self) -> &'static TypeInfo {
        &TYPES[self as usize]
    }

    /// The type's name as used in documents (`pin`, `email_otp`, ...).
    pub const fn name(self) -> &'static str {
        self.info().name
    }

    /// The type's scope.
    pub const fn scope(self) -> Scope {
        self.info().scope
    }

    /// Whether the type supports `op`.
    pub const fn supports(self, op: Operation) -> bool {
        let i = self.info();
        match op {
            Operation::Register => matches!(i.registration, RegistrationMode::Explicit),
            Operation::RegisterImplicit => !matches!(i.registration, RegistrationMode::Explicit),
            Operation::RecordFailure | Operation::Reserve => i.policy_lockout,
            Operation::Lock => i.manual_lock,
            Operation::Unlock => i.manual_unlock,
            Operation::Delete => i.delete,
            Operation::Check | Operation::RecordSuccess | Operation::Deactivate => true,
        }
    }
}

impl fmt::Display for AuthenticatorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AuthenticatorType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        TYPES
            .iter()
            .find(|t| t.name == s)
            .map(|t| t.kind)
            .ok_or_else(|| {
                let names: Vec<&str> = TYPES.iter().map(|t| t.name).collect();
                format!(
                    "`{}` is not an authenticator type (known: {})",
                    s.escape_debug(),
                    names.join(", ")
                )
            })
    }
}

/// Operations whose availability depends on the type; named in errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Explicit registration.
    Register,
    /// Implicit registration (from the profile or on first use).
    RegisterImplicit,
    /// Deciding whether the authenticator may be used.
    Check,
    /// Counting a failed attempt.
    RecordFailure,
    /// Counting a failure before verification (reserve / commit).
    Reserve,
    /// Recording a successful attempt.
    RecordSuccess,
    /// A manual lock.
    Lock,
    /// A manual unlock.
    Unlock,
    /// Deleting the registration.
    Delete,
    /// Deactivating or reactivating.
    Deactivate,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Register => "explicit registration",
            Operation::RegisterImplicit => "implicit registration",
            Operation::Check => "check",
            Operation::RecordFailure => "failure counting (it has no lockout policy)",
            Operation::Reserve => "reserving an attempt (it has no lockout policy)",
            Operation::RecordSuccess => "recording a success",
            Operation::Lock => "manual lock",
            Operation::Unlock => "manual unlock",
            Operation::Delete => "delete",
            Operation::Deactivate => "deactivation",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_indexed_by_discriminant() {
        for (i, row) in TYPES.iter().enumerate() {
            assert_eq!(row.kind as usize, i);
            assert_eq!(row.name.parse::<AuthenticatorType>().unwrap(), row.kind);
        }
    }
}
